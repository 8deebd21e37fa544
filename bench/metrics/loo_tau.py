"""Kendall tau-b between the attribution and leave-one-out occlusion (the drop of the target
score when one token is replaced, same replacement as the curves); higher is better."""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from bench.metric import Evidence, Metric, register_metric


def leave_one_out(evidence: Evidence) -> np.ndarray:
    """y(full) - y(without token i) for every removable position i, in one batched pass."""
    removable = evidence.removable
    y = evidence.perturber.scores(evidence.removal_masks([[i] for i in removable]))
    return evidence.unperturbed_score() - y


@register_metric("loo_tau")
class LeaveOneOutTau(Metric):
    name = "loo_tau"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)

    def compute(self, evidence: Evidence) -> float:
        if len(evidence.removable) < 2:
            return float("nan")
        scores = evidence.explanation.scores[evidence.removable]
        return float(kendalltau(scores, leave_one_out(evidence)).statistic)
