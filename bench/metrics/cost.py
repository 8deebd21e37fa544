"""Cost metrics, read from `Explanation.cost`: wall seconds, forward and backward passes, peak memory.
The records already hold them as `cost_*` columns, so their record column is that one."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric


class CostMetric(Metric):
    family = "cost"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    field: str

    @classmethod
    def record_column(cls) -> str:
        return f"cost_{cls.field}"

    def compute(self, evidence: Evidence) -> float:
        value = getattr(evidence.explanation.cost, self.field)
        return float("nan") if value is None else float(value)  # peak memory: not measured on CPU


for _name, _field in (
    ("seconds", "seconds"),
    ("forward_passes", "forward_passes"),
    ("backward_passes", "backward_passes"),
    ("peak_memory", "peak_memory_bytes"),
):
    register_metric(_name)(type(f"Cost_{_name}", (CostMetric,), {"name": _name, "field": _field}))
