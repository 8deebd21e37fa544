"""Gradient-weighted attention (Chefer, Gur & Wolf 2021, "Generic Attention-model Explainability").

The relevance map starts as the identity and each layer, first to last, adds its
gradient-weighted attention: R <- R + mean_heads[(dA * A)^+] @ R, where dA is the gradient of
the target's log-probability with respect to that layer's attention probabilities. Weighting
by the gradient keeps only the heads and links that push towards the target, which raw
attention and rollout cannot tell apart. This is the AtMan paper's "Chefer" baseline; one
forward and one backward pass.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._attention_maps import capture, read_row


def relevance(attentions: list[torch.Tensor], gradients: list[torch.Tensor]) -> torch.Tensor:
    """(T, T) relevance map R after all layers, from per-layer (heads, T, T) maps and gradients."""
    result = torch.eye(attentions[0].shape[-1], dtype=attentions[0].dtype)
    for attention, gradient in zip(attentions, gradients, strict=True):
        result = result + (gradient * attention).clamp(min=0).mean(0) @ result
    return result


@register_method("gae")
class GradientWeightedAttention(Method):
    name = "gae"
    defaults = {"batch_size": 16}
    needs_attention = True
    needs_gradients = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        maps = capture(model, batch, gradients=True, batch_size=int(self.params["batch_size"]))
        return [
            relevance(m.attentions, m.attention_gradients)[read_row(model, e), : e.n_positions].numpy()
            for m, e in zip(maps, batch, strict=True)
        ]
