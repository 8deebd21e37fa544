"""Soft normalised sufficiency (Zhao and Aletras 2023, eq. 5): keep each token's embedding
elements with probability equal to its normalised score (`bench/metrics/_soft.py`), and
normalise the sufficiency by that of the input with everything removed,
Soft-NS = (S(x, x') - S(x, 0)) / (1 - S(x, 0)), clipped to [0, 1]. Higher is better (the
high-scored tokens alone keep the prediction). Text models."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._soft import soft_outputs, sufficiency


@register_metric("soft_sufficiency")
class SoftSufficiency(Metric):
    name = "soft_sufficiency"
    family = "faithfulness"
    higher_is_better = True
    value_range = (0.0, 1.0)
    modalities = ("text",)

    def compute(self, evidence: Evidence) -> float:
        outputs = soft_outputs(evidence, keep_high=True)
        if outputs is None:
            return float("nan")
        full, soft, baseline = outputs
        return float(np.mean(np.clip((sufficiency(full, soft) - baseline) / (1.0 - baseline), 0.0, 1.0)))
