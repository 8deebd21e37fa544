"""Saliency (Simonyan et al. 2014): the gradient of the target's output at the input, the logit
by default (`target_output`, see methods/_captum.py).

captum's Saliency on the input embeddings (text) or pixels (images), signed (abs=False) so the
aggregation decides. The default is `l2`, the gradient norm per token (per pixel over its
channels): the signed `sum` over the hidden dimension is identically 0 in models whose every
read of the embeddings goes through a LayerNorm (BERT, GPT-2), because LayerNorm ignores a
shift of all dimensions, so the gradient is orthogonal to the all-ones vector. One forward and
one backward pass.
"""

from __future__ import annotations

import torch
from captum.attr import Saliency

from bench.method import register_method
from methods._captum import Attributable, CaptumGradientMethod


@register_method("saliency")
class SaliencyMethod(CaptumGradientMethod):
    name = "saliency"
    defaults = {"aggregation": "l2", "target_output": "logit"}

    def run(self, target: Attributable) -> torch.Tensor:
        return Saliency(target.forward).attribute(target.inputs, abs=False)
