"""Input x gradient (Shrikumar et al. 2016): each input element times its gradient, a
first-order estimate of what removing it (setting it to zero) changes. captum's InputXGradient
on the input embeddings (text) or pixels (images), of the target's logit by default
(`target_output`, see methods/_captum.py; the AtMan repository's `captum_helper.py` explains
each target token's logit). One forward and one backward pass.
"""

from __future__ import annotations

import torch
from captum.attr import InputXGradient

from bench.method import register_method
from methods._captum import Attributable, CaptumGradientMethod


@register_method("input-x-gradient")
class InputXGradientMethod(CaptumGradientMethod):
    name = "input-x-gradient"
    defaults = {"aggregation": "sum", "target_output": "logit"}

    def run(self, target: Attributable) -> torch.Tensor:
        return InputXGradient(target.forward).attribute(target.inputs)
