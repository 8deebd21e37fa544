"""Gradient-weighted attention (Chefer, Gur & Wolf 2021, "Generic Attention-model Explainability").

The relevance map starts as the identity and each layer, first to last, adds its
gradient-weighted attention: R <- R + mean_heads[(dA * A)^+] @ R, where dA is the gradient of
the target's output with respect to that layer's attention probabilities. Weighting by the
gradient keeps only the heads and links that push towards the target, which raw attention and
rollout cannot tell apart. This is the AtMan paper's "Chefer" baseline.

Ported from hila-chefer/Transformer-MM-Explainability (`avg_heads`, `apply_self_attention_rules`
in `Transformer_MM_explainability_ViT.ipynb`, read at R[0, 1:]) and its decoder port in
Aleph-Alpha/AtMan `atman_magma/chefer/method.py` (one backward per target token of that token's
`one_hot * logits`, R read at row P - 1 + t). The score is the read row of R - I: the identity R
starts from is no relevance (Chefer's code drops [CLS] -> [CLS] the same way), and a causal LM's
target tokens' rows are summed. `target_output` is the logit by default, as both references
differentiate; the clamp makes the method non-linear in the gradient, so each target token
gets its own backward pass.
"""

from __future__ import annotations

import torch

from bench.method import register_method
from bench.models import Encoded
from methods._attention_maps import AttentionGradientMethod, AttentionMaps


def relevance(attentions: list[torch.Tensor], gradients: list[torch.Tensor]) -> torch.Tensor:
    """(T, T) relevance map R after all layers, from per-layer (heads, T, T) maps and gradients."""
    result = torch.eye(attentions[0].shape[-1], dtype=attentions[0].dtype)
    for attention, gradient in zip(attentions, gradients, strict=True):
        result = result + (gradient * attention).clamp(min=0).mean(0) @ result
    return result


def token_relevance(
    maps: AttentionMaps, encoded: Encoded, row: int, gradients: list[torch.Tensor]
) -> torch.Tensor:
    """One target token's scores: its read row of R - I over the explained positions."""
    matrix = relevance(maps.attentions, gradients) - torch.eye(len(encoded.input_ids), dtype=torch.float64)
    return matrix[row, : encoded.n_positions]


@register_method("gae")
class GradientWeightedAttention(AttentionGradientMethod):
    name = "gae"
    token_scores = staticmethod(token_relevance)
