"""Stability: the mean Spearman's rho between the explanation of an input and the same
method's explanations of perturbed copies that keep the prediction (`bench/metrics/_robustness.py`:
text copies replace 10% of the lower-ranked tokens; images add small uniform noise), on the
positions the copy left unchanged. An explanation that reorders everything under a change of
what it calls unimportant is not robust. Higher is better. Opt-in (`--families +robustness`):
it re-explains every input three times (images: the first three noisy copies)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._randomization import spearman
from bench.metrics._robustness import TEXT_COPIES, copies, reexplained


@register_metric("stability")
class Stability(Metric):
    name = "stability"
    family = "robustness"
    higher_is_better = True
    value_range = (-1.0, 1.0)
    needs_method = True

    def compute(self, evidence: Evidence) -> float:
        scores = evidence.explanation.scores
        pairs = [
            (copy, other)
            for copy, other in zip(copies(evidence), reexplained(evidence), strict=True)
            if copy.same_prediction
        ][:TEXT_COPIES]
        rhos = [
            spearman(scores[c.unchanged], other[c.unchanged]) for c, other in pairs if len(c.unchanged) > 1
        ]
        rhos = [rho for rho in rhos if not np.isnan(rho)]
        return float(np.mean(rhos)) if rhos else float("nan")
