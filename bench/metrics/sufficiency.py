"""ERASER sufficiency: how much the target probability drops when ONLY the top 1/5/10/20/50% of
tokens are kept (averaged over the bins); lower is better."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._eraser import mean_drop


@register_metric("sufficiency")
class Sufficiency(Metric):
    name = "sufficiency"
    family = "faithfulness"
    higher_is_better = False
    value_range = (-1.0, 1.0)

    def compute(self, evidence: Evidence) -> float:
        return mean_drop(evidence, keep_top=True)
