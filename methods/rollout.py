"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers").

Each layer's head-averaged attention is mixed half and half with the identity (the residual
connection), rows renormalised, and the layers multiplied from first to last, so the map
follows information through every layer instead of reading only the last one. The score of
a position is the rollout row of the reading position ([CLS]; for a causal LM, the rows of the
positions that predict each target token, summed), with the row's own (self) entry set to 0:
the residual's identity flows mostly to itself and is no relevance.

Ported from Aleph-Alpha/AtMan `atman_magma/attention_rollout/attention_rollout.py` (A + I,
renormalised, multiplied first to last, rows P - 1 + t summed over the target tokens) and
hila-chefer/Transformer-MM-Explainability `lxmert/lxmert/src/ExplanationGenerator.py`
(`compute_rollout_attention`, read without the [CLS] -> [CLS] entry).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from bench.method import Method, register_method
from bench.models import Encoded, Model
from methods._attention_maps import capture, read_rows


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
    bounds = {"batch_size": (1, math.inf)}
    defaults = {"batch_size": 16}
    needs_attention = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        maps = capture(model, batch, int(self.params["batch_size"]))
        scores = []
        for m, encoded in zip(maps, batch, strict=True):
            matrix = rollout(m.attentions).fill_diagonal_(0.0)
            scores.append(matrix[read_rows(model, encoded), : encoded.n_positions].sum(0).numpy())
        return scores
