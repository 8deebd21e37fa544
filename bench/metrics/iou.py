"""Intersection over union of the top-k tokens and the rationale, k = |rationale|."""

from __future__ import annotations

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import top_k_overlap


@register_metric("iou")
class IoU(Metric):
    name = "iou"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        overlap, k = top_k_overlap(evidence)
        return overlap / (2 * k - overlap) if k else float("nan")
