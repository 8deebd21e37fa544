"""Comprehensiveness (ERASER, DeYoung et al. 2020): how much the target probability drops when the
top-scored tokens are removed, averaged over bins of 1/5/10/20/50% of the tokens (ERASER's AOPC
form); higher is better. Bins, rounding, removal and class are the protocol's
(`bench/protocols/`): ferret's AOPC comprehensiveness under `ferret`."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._eraser import BIN_SETTINGS, bin_removals, mean_drop
from bench.perturbation import Perturber


@register_metric("comprehensiveness")
class Comprehensiveness(Metric):
    name = "comprehensiveness"
    family = "faithfulness"
    higher_is_better = True
    value_range = (-1.0, 1.0)
    protocol_settings = BIN_SETTINGS

    def compute(self, evidence: Evidence) -> float:
        return mean_drop(evidence, keep_top=False)

    def removals(self, evidence: Evidence) -> list[tuple[Perturber, np.ndarray]]:
        return bin_removals(evidence, keep_top=False)
