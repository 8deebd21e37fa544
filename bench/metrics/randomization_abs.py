"""Model-parameter randomisation (Adebayo et al. 2018) on absolute scores: as `randomization`,
with Spearman's rho of |scores| (the paper reports both: a sign flip alone is no change of
what the explanation points at). Lower is better."""

from __future__ import annotations

from bench.metric import register_metric
from bench.metrics.randomization import Randomization


@register_metric("randomization_abs")
class RandomizationAbs(Randomization):
    name = "randomization_abs"
    absolute = True
