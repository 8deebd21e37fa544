"""Sufficiency (ERASER, DeYoung et al. 2020): how much the target probability drops when ONLY the
top-scored tokens are kept, averaged over the bins as comprehensiveness; lower is better. Bins,
rounding, removal and class are the protocol's (`bench/protocols/`)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._eraser import BIN_SETTINGS, bin_removals, mean_drop
from bench.perturbation import Perturber


@register_metric("sufficiency")
class Sufficiency(Metric):
    name = "sufficiency"
    family = "faithfulness"
    higher_is_better = False
    value_range = (-1.0, 1.0)
    protocol_settings = BIN_SETTINGS

    def compute(self, evidence: Evidence) -> float:
        return mean_drop(evidence, keep_top=True)

    def removals(self, evidence: Evidence) -> list[tuple[Perturber, np.ndarray]]:
        return bin_removals(evidence, keep_top=True)
