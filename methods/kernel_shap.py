"""Kernel SHAP (Lundberg and Lee 2017) through captum's KernelShap, over feature on/off.

Each non-special explained position (text token, ViT patch, CNN cell) is one binary feature:
on = the input as is, off = removed as in `methods._coalitions` (the `baseline` token for text,
the `image_baseline` fill for images). captum samples `n_samples` coalitions (seeded), weights
them with the Shapley kernel and fits a linear model to log p(target); its coefficients are the
scores. captum gives the full and the empty coalition a very large weight, so the scores sum to
f(x) - f(all removed) up to the regression's fit (approximate efficiency, not exact).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from captum.attr import KernelShap

from bench.method import register_method
from methods._coalitions import (
    COALITION_BOUNDS,
    COALITION_DEFAULTS,
    CoalitionMethod,
    Coalitions,
    CoalitionValue,
    captum_coalition_values,
)


def kernel_shap_values(
    value: CoalitionValue, n_features: int, n_samples: int, seed: int, batch_size: int = 64
) -> np.ndarray:
    """captum KernelShap over `n_features` binary features of the set function `value`. A single
    feature (a one-sentence text explained by sentence) gets its exact Shapley value, f(x) -
    f(removed): captum draws coalition sizes from 1..d-1, none for d = 1, and fails."""
    if n_features == 1:
        return np.diff(value(np.array([[True], [False]]))[::-1])
    return captum_coalition_values(
        KernelShap,
        value,
        n_features,
        seed,
        n_samples=int(n_samples),
        perturbations_per_eval=int(batch_size),
    )


@register_method("kernel-shap")
class KernelShapMethod(CoalitionMethod):
    name = "kernel-shap"
    bounds = {"n_samples": (1, math.inf), **COALITION_BOUNDS}
    defaults: dict[str, Any] = {"n_samples": 500, **COALITION_DEFAULTS}

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        params = self.params
        return kernel_shap_values(
            coalitions.logprob,
            coalitions.n_features,
            params["n_samples"],
            params["seed"],
            params["batch_size"],
        )
