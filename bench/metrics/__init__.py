"""Metrics: one module per metric, each registered in `bench.registry.METRICS`."""
