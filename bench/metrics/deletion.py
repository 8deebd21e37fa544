"""Deletion (MoRF): remove the highest-scored tokens first; a faithful ranking makes the target
probability fall fast, so a lower area under the curve is better."""

from __future__ import annotations

import numpy as np

from bench.metric import RemovalCurveMetric, register_metric


@register_metric("deletion")
class Deletion(RemovalCurveMetric):
    name = "deletion"
    family = "faithfulness"
    higher_is_better = False
    value_range = (0.0, 1.0)

    def removed_sets(self, order: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
        return [order[:k] for k in steps]
