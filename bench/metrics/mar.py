"""Mass-based recall (the AtMan paper's mAR): how fully the rationale is covered by score mass,
sum((x / max x) * y) / sum(y) with x the scores clipped at zero."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import positive_mass


@register_metric("mar")
class MassRecall(Metric):
    name = "mar"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        x, y = positive_mass(evidence)
        if x.max(initial=0.0) <= 0 or y.sum() == 0:
            return float("nan")
        return float((x / x.max() * y).sum() / y.sum())
