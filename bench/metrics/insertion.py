"""Insertion: start from every removable token replaced and put back the highest-scored first;
a faithful ranking makes the target probability rise fast, so a higher area is better."""

from __future__ import annotations

import numpy as np

from bench.metric import RemovalCurveMetric, register_metric


@register_metric("insertion")
class Insertion(RemovalCurveMetric):
    name = "insertion"
    family = "faithfulness"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def removed_sets(self, order: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
        return [order[k:] for k in steps]
