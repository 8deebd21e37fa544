"""Integrated gradients (Sundararajan et al. 2017): the path integral of the gradient from a
baseline to the input. With the signed `sum` aggregation the scores add up to
f(input) - f(baseline) (completeness), which the tests check.

Text baseline: the embedding of the baseline token (`mask`: mask, else pad, else unk) or the
zero vector (`zero`, captum's default and the AtMan repository's `captum_helper.py`) at every
non-special explained position; special tokens and a causal LM's target tokens are kept, so
special tokens score exactly 0. Image baseline: zero pixels in the model's normalised input
space (captum's default), black pixels, or the image's per-channel mean. captum's
IntegratedGradients (Gauss-Legendre, `n_steps` points), `batch_size` path points per forward
pass, of the target's logit by default (`target_output`, see methods/_captum.py).
"""

from __future__ import annotations

import math

import torch
from captum.attr import IntegratedGradients

from bench.method import register_method
from methods._captum import Attributable, CaptumGradientMethod


@register_method("integrated-gradients")
class IntegratedGradientsMethod(CaptumGradientMethod):
    name = "integrated-gradients"
    bounds = {"n_steps": (1, math.inf), "batch_size": (1, math.inf)}
    defaults = {
        "n_steps": 50,
        "baseline": "mask",
        "image_baseline": "zero",
        "aggregation": "sum",
        "target_output": "logit",
        "batch_size": 16,
    }

    def run(self, target: Attributable) -> torch.Tensor:
        return IntegratedGradients(target.forward).attribute(
            target.inputs,
            baselines=target.baseline,
            n_steps=int(self.params["n_steps"]),
            internal_batch_size=int(self.params["batch_size"]),
        )
