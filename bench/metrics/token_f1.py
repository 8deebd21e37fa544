"""Token F1 of the top-k tokens against the rationale, k = |rationale| (so precision = recall = F1)."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import top_k_overlap


@register_metric("token_f1")
class TokenF1(Metric):
    name = "token_f1"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        overlap, k = top_k_overlap(evidence)
        return overlap / k if k else float("nan")
