"""Mass-based precision (the AtMan paper's mAP): the share of positive score mass that falls on
the rationale, sum(x * y) / sum(x) with x the scores clipped at zero."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import positive_mass


@register_metric("map")
class MassPrecision(Metric):
    name = "map"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        x, y = positive_mass(evidence)
        if x.sum() <= 0 or y.sum() == 0:  # no positive mass, or no ground truth to land on
            return float("nan")
        return float((x * y).sum() / x.sum())
