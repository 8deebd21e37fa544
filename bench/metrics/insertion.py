"""Insertion: start from every removable token replaced and put back the highest-scored first;
a faithful ranking makes the target probability rise fast, so a higher area is better."""

from __future__ import annotations

import numpy as np

from bench.metric import CurveMetric, Evidence, curve_steps, register_metric


@register_metric("insertion")
class Insertion(CurveMetric):
    name = "insertion"
    family = "faithfulness"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def _curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        n = len(evidence.order)
        steps = curve_steps(n)
        masks = evidence.removal_masks([evidence.order[k:] for k in steps])
        return steps / max(n, 1), evidence.perturber.scores(masks)
