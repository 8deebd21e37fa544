"""Grad-SAM (Barkan et al. 2021, "Grad-SAM: Explaining Transformers via Gradient Self-Attention
Maps", CIKM 2021): the attention maps weighted by their positive gradients, averaged.

score = mean over layers and heads of ReLU(dA * A), read at the row that explains the target:
[CLS] for encoders and ViTs; for a causal LM the row P - 1 + t that predicts target token t,
one backward pass per target token, rows summed (`methods._attention_maps.read_rows`, the rows
gae, rollout and attention read). dA is the gradient of the target's `target_output` (its
logit by default, as gae and the third-party code below differentiate) with respect to the
layer's attention probabilities. Unlike gae nothing is propagated through the layers: each
layer's map counts on its own; one forward pass, one backward pass per target token.

Reference code: the authors published none (Papers with Code lists no implementation for the
paper), so this is a port of the method as issue 18 states it from the paper. The one
third-party implementation the code search found (a standalone script defining
`grad_sam(model, attentions, logits)` and `get_grads_gradsam`; the index does not name its
repository) computes A * ReLU(dA): attention probabilities are non-negative, so that equals
ReLU(dA * A). Intended differences from it: it sums each map over the key axis for every
query row, so a token scores by how much it attends (with positive gradient) to others, over
all rows; here a token scores by how much the target's reading row attends to it, as every
attention baseline of this benchmark reads. It divides by L * H * n instead of L * H: a
constant factor per input, which no metric here sees.
"""

from __future__ import annotations

import torch

from bench.method import register_method
from bench.models import Encoded
from methods._attention_maps import AttentionGradientMethod, AttentionMaps


def grad_sam_row(attentions: list[torch.Tensor], gradients: list[torch.Tensor], row: int) -> torch.Tensor:
    """(T,) mean over layers and heads of ReLU(dA * A) at query `row`, from per-layer (heads, T, T)."""
    weighted = [(g[:, row] * a[:, row]).clamp(min=0) for a, g in zip(attentions, gradients, strict=True)]
    return torch.stack(weighted).mean(dim=(0, 1))


def token_grad_sam(
    maps: AttentionMaps, encoded: Encoded, row: int, gradients: list[torch.Tensor]
) -> torch.Tensor:
    """One target token's scores: its read row over the explained positions."""
    return grad_sam_row(maps.attentions, gradients, row)[: encoded.n_positions]


@register_method("grad-sam")
class GradSam(AttentionGradientMethod):
    name = "grad-sam"
    token_scores = staticmethod(token_grad_sam)
