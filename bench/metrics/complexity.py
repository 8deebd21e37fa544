"""Complexity (Bhatt et al. 2020): the entropy of each position's fractional contribution
|a_i| / sum |a|, in [0, log n]; lower is better (fewer positions carry the explanation). As
Quantus computes it (`quantus/metrics/complexity/complexity.py`, `evaluate_batch`:
-sum p log(p + 1e-12)); a test compares with Quantus."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._complexity import magnitudes

EPSILON = 1e-12


@register_metric("complexity")
class Complexity(Metric):
    name = "complexity"
    family = "complexity"
    higher_is_better = False
    value_range = (0.0, float("inf"))

    def compute(self, evidence: Evidence) -> float:
        a = magnitudes(evidence)
        if a is None:
            return float("nan")
        p = a / a.sum()
        return float(-np.sum(p * np.log(p + EPSILON)))
