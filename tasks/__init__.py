"""Benchmark tasks: one module per task, each registering itself with `@register_task`."""
