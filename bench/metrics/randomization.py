"""Model-parameter randomisation (Adebayo et al. 2018), signed: Spearman's rho between the
explanation of the trained model and the same method's explanation once the cascade
(`bench/metrics/_randomization.py`) has re-initialised every block, top to bottom. An
explanation that ignores the weights keeps a high rho, so lower is better. The record keeps
the whole cascade (rho after each step) as a curve. It re-runs the method once per block, so
the runner computes it only when sanity checks are on."""

from __future__ import annotations

import numpy as np

from bench.metric import CurveMetric, Evidence, register_metric
from bench.metrics._randomization import cascade


@register_metric("randomization")
class Randomization(CurveMetric):
    name = "randomization"
    family = "sanity"
    higher_is_better = False
    value_range = (-1.0, 1.0)
    needs_method = True
    absolute = False

    def _curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        steps = cascade(evidence)
        rho = np.array(steps.absolute if self.absolute else steps.signed)
        return np.arange(1, len(rho) + 1) / len(rho), rho

    def compute(self, evidence: Evidence) -> float:
        """rho after the last step, when every block is random (not the curve's area)."""
        if len(evidence.removable) < 2:
            return float("nan")
        return float(self.curve(evidence)[1][-1])
