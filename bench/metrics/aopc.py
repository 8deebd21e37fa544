"""AOPC (Samek et al. 2017): the mean drop of the target probability along the deletion curve,
1/(L+1) * sum_k (y_0 - y_k); higher means the top-ranked tokens mattered more."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics.deletion import Deletion


@register_metric("aopc")
class AOPC(Metric):
    name = "aopc"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)

    def compute(self, evidence: Evidence) -> float:
        _, y = Deletion().curve(evidence)
        return float(np.mean(y[0] - y)) if len(y) > 1 else float("nan")
