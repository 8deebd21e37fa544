"""ERASER comprehensiveness: how much the target probability drops when the top 1/5/10/20/50%
of tokens are removed (averaged over the bins); higher is better."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._eraser import mean_drop


@register_metric("comprehensiveness")
class Comprehensiveness(Metric):
    name = "comprehensiveness"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)

    def compute(self, evidence: Evidence) -> float:
        return mean_drop(evidence, keep_top=False)
