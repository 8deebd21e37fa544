"""Sparseness (Chalasani et al. 2020): the Gini index of the attribution magnitudes, in [0, 1];
1 when one position holds all the attribution, 0 when every position holds the same. Higher is
better (a concise explanation). As Quantus computes it
(`quantus/metrics/complexity/sparseness.py`, `evaluate_batch`: |a| normalised by its maximum,
plus 1e-7, sorted, sum((2i - n - 1) a_i) / (n sum a_i)); a test compares with Quantus."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._complexity import magnitudes

EPSILON = 1e-7
"""Quantus's offset, which keeps an all-but-one-zero vector finite."""


@register_metric("sparseness")
class Sparseness(Metric):
    name = "sparseness"
    family = "complexity"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def compute(self, evidence: Evidence) -> float:
        a = magnitudes(evidence)
        if a is None:
            return float("nan")
        a = np.sort(a + EPSILON)
        n = len(a)
        return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * a) / (n * a.sum()))
