"""Evaluation protocols: one module per protocol, each registered in `bench.registry.PROTOCOLS`."""
