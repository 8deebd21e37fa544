"""What scoring an explanation cost: wall seconds and forward passes of all its metrics together
(every protocol included), measured by the runner around them and recorded per row as
`eval_*` columns beside the explanation's own `cost_*` columns. Not computable from one
explanation alone, so `bench.evaluate` does not offer them."""

from __future__ import annotations

from typing import ClassVar

from bench.errors import NotApplicableError
from bench.metric import Evidence, Metric, register_metric


class EvaluationCost(Metric):
    family = "cost"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    measured_by_runner: ClassVar[bool] = True
    field: ClassVar[str]

    @classmethod
    def record_column(cls) -> str:
        return f"eval_{cls.field}"

    def compute(self, evidence: Evidence) -> float:
        raise NotApplicableError(f"{self.name} is measured by the runner around all metrics of a row")


for _name, _field in (("eval_seconds", "seconds"), ("eval_forward_passes", "forward_passes")):
    register_metric(_name)(type(f"Cost_{_name}", (EvaluationCost,), {"name": _name, "field": _field}))
