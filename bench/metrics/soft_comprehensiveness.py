"""Soft normalised comprehensiveness (Zhao and Aletras 2023, eq. 4): zero each token's embedding
elements with probability equal to its normalised score (keep probability 1 - score;
`bench/metrics/_soft.py`), Soft-NC = max(0, p(y|x) - p(y|x')) / (1 - S(x, 0)), clipped to
[0, 1]. Higher is better (removing the high-scored tokens by degrees lowers the prediction).
Text models."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._soft import soft_outputs


@register_metric("soft_comprehensiveness")
class SoftComprehensiveness(Metric):
    name = "soft_comprehensiveness"
    family = "faithfulness"
    higher_is_better = True
    value_range = (0.0, 1.0)
    modalities = ("text",)

    def compute(self, evidence: Evidence) -> float:
        outputs = soft_outputs(evidence, keep_high=False)
        if outputs is None:
            return float("nan")
        full, soft, baseline = outputs
        return float(np.mean(np.clip(np.maximum(0.0, full - soft) / (1.0 - baseline), 0.0, 1.0)))
