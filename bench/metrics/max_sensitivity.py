"""Maximum sensitivity (Yeh et al. 2019), as Quantus's `MaxSensitivity`: the largest
||a(x) - a(x')|| / ||a(x)|| over the noisy copies of `avg_sensitivity`. Lower is better. Images
only; opt-in (`--families +robustness`)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics.avg_sensitivity import sensitivities


@register_metric("max_sensitivity")
class MaxSensitivity(Metric):
    name = "max_sensitivity"
    family = "robustness"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    needs_method = True
    modalities = ("image",)

    def compute(self, evidence: Evidence) -> float:
        return float(np.max(sensitivities(evidence)))
