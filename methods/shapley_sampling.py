"""Shapley value sampling (Castro, Gómez & Tejada 2009, "Polynomial calculation of the Shapley
value based on sampling") through captum's ShapleyValueSampling, over feature on/off.

Reference code: captum `captum/attr/_core/shapley_value.py` (`ShapleyValueSampling`), called as
it is. Each non-special unit (text token, word or sentence; ViT patch, CNN cell) is one binary
feature: on = the input as is, off = removed as in `methods._coalitions` (the `baseline` token
for text, the `image_baseline` fill for images), exactly as kernel-shap, shap and lime remove
it. captum draws `n_samples` random permutations (seeded); along each it adds the features one
by one to the all-removed input, and a feature's score is its mean marginal gain in
log p(target). Every permutation's gains telescope to f(x) - f(all removed), so the scores sum
to it exactly (up to captum's float32 accumulation), for any `n_samples`.

`n_samples` = 25 is captum's default. A permutation costs n_features coalitions, all but the
full input new unless drawn before (the memo runs each distinct coalition once), so the forward
passes are at most 2 + n_samples * (n_features - 1). On the default run's 20 spam messages that
is 441 per example, between kernel-shap's 368 (500 draws) and lime's 809 (1000), so a default
run over every method stays affordable. The estimate's error falls as 1 / sqrt(n_samples).
captum sends one permutation's coalitions per call (`batch_size` at most).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from captum.attr import ShapleyValueSampling

from bench.method import register_method
from methods._coalitions import (
    COALITION_BOUNDS,
    COALITION_DEFAULTS,
    CoalitionMethod,
    Coalitions,
    CoalitionValue,
    captum_coalition_values,
)


def shapley_sampling_values(
    value: CoalitionValue, n_features: int, n_samples: int, seed: int, batch_size: int = 64
) -> np.ndarray:
    """captum ShapleyValueSampling over `n_features` binary features of the set function `value`."""
    return captum_coalition_values(
        ShapleyValueSampling,
        value,
        n_features,
        seed,
        n_samples=int(n_samples),
        perturbations_per_eval=int(batch_size),
    )


@register_method("shapley-sampling")
class ShapleySampling(CoalitionMethod):
    name = "shapley-sampling"
    bounds = {"n_samples": (1, math.inf), **COALITION_BOUNDS}
    defaults: dict[str, Any] = {"n_samples": 25, **COALITION_DEFAULTS}

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        params = self.params
        return shapley_sampling_values(
            coalitions.logprob,
            coalitions.n_features,
            params["n_samples"],
            params["seed"],
            params["batch_size"],
        )
