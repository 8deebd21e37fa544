"""Average sensitivity (Yeh et al. 2019, "On the (in)fidelity and sensitivity of
explanations"), as Quantus computes it (`quantus/metrics/robustness/avg_sensitivity.py`,
`evaluate_batch`): over noisy copies x + U(-0.2, 0.2), the mean of ||a(x) - a(x')|| / ||a(x)||
(Frobenius norms, unnormalised scores, copies kept whatever their prediction). Lower is better.
Images only; opt-in (`--families +robustness`); 10 copies where Quantus draws 200."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._robustness import reexplained


def sensitivities(evidence: Evidence) -> np.ndarray:
    a = np.asarray(evidence.explanation.scores, dtype=np.float64)
    norm = np.linalg.norm(a)
    if norm == 0:
        return np.array([np.nan])
    return np.array([np.linalg.norm(a - other) / norm for other in reexplained(evidence)])


@register_metric("avg_sensitivity")
class AvgSensitivity(Metric):
    name = "avg_sensitivity"
    family = "robustness"
    higher_is_better = False
    value_range = (0.0, float("inf"))
    needs_method = True
    modalities = ("image",)

    def compute(self, evidence: Evidence) -> float:
        return float(np.mean(sensitivities(evidence)))
