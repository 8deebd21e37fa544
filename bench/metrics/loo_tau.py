"""Kendall tau-b between the attribution and leave-one-out (the drop of the target score when
one token is deleted, or one image patch blurred); higher is better.

As g8a9/ferret `ferret/evaluators/faithfulness_measures.py` (`TauLOO_Evaluation`), the
reference deletes the token rather than replacing it in place: `occlusion` replaces tokens by
the mask token (patches by black), so a reference made the same way would be occlusion itself,
which would score tau = 1 by construction and top the table.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import kendalltau

from bench.metric import Evidence, Metric, register_metric

REFERENCE_REMOVAL = {"classifier": "delete", "causal-lm": "delete", "image-classifier": "blur"}
"""How the leave-one-out reference removes one position, per model kind: no explained method
removes tokens by deletion or patches by blurring."""


def leave_one_out(evidence: Evidence) -> np.ndarray:
    """y(full) - y(without position i) for every removable position i, in one batched pass."""

    def compute() -> np.ndarray:
        perturber = evidence.perturber_for(REFERENCE_REMOVAL[evidence.model.kind])
        y = perturber.scores(evidence.removal_masks([[i] for i in evidence.removable]))
        return evidence.unperturbed_score() - y

    return evidence.cached_for_input("leave_one_out", compute)  # the same for every method


@register_metric("loo_tau")
class LeaveOneOutTau(Metric):
    name = "loo_tau"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)

    def tautological_for(self, method, model) -> bool:
        return method.leave_one_out_removal(model) == REFERENCE_REMOVAL[model.kind]

    def compute(self, evidence: Evidence) -> float:
        if len(evidence.removable) < 2:
            return float("nan")
        scores = evidence.explanation.scores[evidence.removable]
        return float(kendalltau(scores, leave_one_out(evidence)).statistic)
