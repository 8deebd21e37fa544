"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Each layer's head-averaged attention is mixed half and half with the identity (the residual
connection), rows renormalised, and the layers multiplied from first to last, so the map
follows information through every layer instead of reading only the last one. The score of
a position is the rollout row of the reading position ([CLS], or the position predicting the
target of a causal LM).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._attention_maps import capture, read_row


def rollout(attentions: list[torch.Tensor]) -> torch.Tensor:
    """(T, T) product A_L ... A_1 of A_l = rownorm(0.5 * mean_heads(attention_l) + 0.5 * I)."""
    identity = torch.eye(attentions[0].shape[-1], dtype=attentions[0].dtype)
    result = identity
    for attention in attentions:
        mixed = 0.5 * attention.mean(0) + 0.5 * identity
        result = (mixed / mixed.sum(-1, keepdim=True)) @ result
    return result


@register_method("rollout")
class AttentionRollout(Method):
    name = "rollout"
    defaults = {"batch_size": 16}
    needs_attention = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        maps = capture(model, batch, batch_size=int(self.params["batch_size"]))
        return [
            rollout(m.attentions)[read_row(model, e), : e.n_positions].numpy()
            for m, e in zip(maps, batch, strict=True)
        ]
