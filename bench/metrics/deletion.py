"""Deletion (MoRF): remove the highest-scored tokens first; a faithful ranking makes the target
probability fall fast, so a lower area under the curve is better."""

from __future__ import annotations

import numpy as np

from bench.metric import CurveMetric, Evidence, curve_steps, register_metric


@register_metric("deletion")
class Deletion(CurveMetric):
    name = "deletion"
    family = "faithfulness"
    higher_is_better = False
    value_range = (0.0, 1.0)

    def _curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        n = len(evidence.order)
        steps = curve_steps(n)
        masks = evidence.removal_masks([evidence.order[:k] for k in steps])
        return steps / max(n, 1), evidence.perturber.scores(masks)
