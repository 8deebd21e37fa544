"""AOPC (Samek et al. 2017, "Evaluating the visualization of what a deep neural network has
learned", eq. 12): the mean drop of the target score over the first L + 1 steps of most-relevant-
first removal, 1/(L+1) * sum_{k=0..L} (y_0 - y_k); higher means the top-ranked tokens mattered
more. L is a fifth of the ranked positions (rounded up): the whole curve's tail, where almost
everything is gone, is the same for every method and only compresses their differences.
Under a protocol with `aopc="bins"` (ERASER's `_instances_aopc`, ferret's AOPC) it is the mean
drop over the protocol's bins, i.e. that protocol's comprehensiveness.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._eraser import BIN_SETTINGS, bin_removals, mean_drop
from bench.perturbation import Perturber


@register_metric("aopc")
class AOPC(Metric):
    name = "aopc"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)
    protocol_settings = ("aopc", *BIN_SETTINGS)
    steps_fraction: ClassVar[float] = 0.2
    """L as a fraction of the ranked (removable) positions, rounded up."""

    def steps(self, n: int) -> int:
        return math.ceil(self.steps_fraction * n)

    def _masks(self, evidence: Evidence) -> np.ndarray:
        """The first L most-relevant-first removals (k = 1..L)."""
        order = evidence.order
        return evidence.removal_masks([order[:k] for k in range(1, self.steps(len(order)) + 1)])

    def compute(self, evidence: Evidence) -> float:
        if evidence.protocol.aopc == "bins":
            return mean_drop(evidence, keep_top=False)
        if len(evidence.order) == 0:
            return float("nan")
        masks = self._masks(evidence)
        perturber = evidence.protocol_perturber
        y = perturber.scores(masks)
        # k = 0 contributes y_0 - y_0 = 0 to the sum, and counts in the L + 1
        return float(np.sum(evidence.unperturbed_score(perturber) - y) / (len(masks) + 1))

    def removals(self, evidence: Evidence) -> list[tuple[Perturber, np.ndarray]]:
        if evidence.protocol.aopc == "bins":
            return bin_removals(evidence, keep_top=False)
        return [(evidence.protocol_perturber, self._masks(evidence))]
