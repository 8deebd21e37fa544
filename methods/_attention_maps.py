"""Run a transformer once and capture its attention probabilities, for the attention baselines.

`attention`, `rollout`, `gae` and `gradcam` all read the same things: every layer's attention
probabilities (with the model switched to eager attention, the only implementation that
returns them), the hidden states, and for the gradient methods the gradients of the target's
output with respect to both. In transformers 5.x the tensors returned with
`output_attentions=True` are the very tensors multiplied with V (checked in
tests/methods/test_gae.py), so their gradients are the gradients the methods need and no
custom attention function is required.

Which row of a (T, T) map explains the target (`read_rows`): [CLS] for encoders and ViTs; for
a causal LM, target token t is predicted at position P - 1 + t (P prompt positions), so each
target token has its own row, as the AtMan repository's Chefer and rollout baselines read them
(`atman_magma/chefer/method.py`, `attention_rollout/attention_rollout.py`). Gradients are taken
once per target token, of that token's own output (`target_output`: its logit or its
log-probability), since a method that is not linear in the gradient cannot use the sum's; each
token's gradients are turned into scores (`gradient_scores`) before the next token's are taken,
so memory holds one token's gradients, not a long answer's.

Rows of a batch are right-padded; each row's maps are cropped to its own length, so padding
never changes a score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from bench.errors import NotApplicableError
from bench.method import Method
from bench.models import TARGET_OUTPUTS, Encoded, Model


@dataclass
class AttentionMaps:
    """One input's maps, float64 on the CPU, cropped to its T = len(input_ids) positions."""

    attentions: list[torch.Tensor]
    """Per layer, (heads, T, T) attention probabilities; row = query, column = key."""
    hidden_states: list[torch.Tensor]
    """The embeddings, then each layer's output: (T, hidden) each."""


TokenScores = Callable[[AttentionMaps, Encoded, int, list[torch.Tensor]], torch.Tensor]
"""(an input's maps, the input, the row that reads one target token, d that token's output / d
the maps) -> (n_positions,) scores for that target token."""
GRADIENT_TARGETS = ("attentions", "hidden_states")


def read_rows(model: Model, encoded: Encoded) -> list[int]:
    """The query positions whose view of the input explains the target, one per target token:
    [CLS] (position 0) for encoders and ViTs; for a causal LM, T - 1 + t for target token t
    (T: `target_start`)."""
    if model.kind != "causal-lm":
        return [0]
    return [encoded.target_start - 1 + t for t in range(len(encoded.target_ids))]


def capture(model: Model, batch: list[Encoded], batch_size: int = 16) -> list[AttentionMaps]:
    """Attention maps and hidden states of every input, `batch_size` rows per forward pass."""
    maps: list[AttentionMaps] = []
    with torch.no_grad(), model.attention_implementation("eager"):
        for start in range(0, len(batch), batch_size):
            rows = batch[start : start + batch_size]
            maps += _maps(model, rows, _forward(model, rows, "logprob")[1])
    return maps


def gradient_scores(
    model: Model,
    batch: list[Encoded],
    token_scores: TokenScores,
    wrt: str,
    batch_size: int = 16,
    target_output: str = "logprob",
) -> list[np.ndarray]:
    """Per input, `token_scores` summed over its target tokens, each given the gradients of that
    token's own output with respect to the maps named by `wrt` (one backward pass per target
    token and chunk of `batch_size` inputs; only one token's gradients are held at a time)."""
    if wrt not in GRADIENT_TARGETS:
        raise ValueError(f"wrt={wrt!r} is not one of {', '.join(GRADIENT_TARGETS)}")
    scores: list[np.ndarray] = []
    with model.attention_implementation("eager"):
        for start in range(0, len(batch), batch_size):
            rows = batch[start : start + batch_size]
            with torch.enable_grad():
                values, out = _forward(model, rows, target_output)
                maps = _maps(model, rows, out)
                tensors = list(getattr(out, wrt))
                totals = [torch.zeros(row.n_positions, dtype=torch.float64) for row in rows]
                # rows are independent, so one backward of token t summed over the rows gives each
                # row its own token's gradients; rows with fewer target tokens sit the later ones out
                longest = max(len(v) for v in values)
                for t in range(longest):
                    output = sum(v[t] for v in values if len(v) > t)
                    # the last layer's non-reading positions never reach the target: zero, not None
                    gradients = torch.autograd.grad(
                        output,
                        tensors,
                        retain_graph=t < longest - 1,
                        allow_unused=True,
                        materialize_grads=True,
                    )
                    gradients = _cpu64(gradients)
                    for b, row in enumerate(rows):
                        if len(values[b]) > t:
                            row_gradients = _crop(gradients, b, len(row.input_ids))
                            totals[b] += token_scores(maps[b], row, read_rows(model, row)[t], row_gradients)
            scores += [total.numpy() for total in totals]
    return scores


def _forward(model: Model, rows: list[Encoded], target_output: str) -> tuple[list[torch.Tensor], Any]:
    values, out = model.forward_for_target(
        model.batch(rows),
        rows,
        output=target_output,
        per_token=True,
        output_attentions=True,
        output_hidden_states=True,
    )
    if not out.attentions:
        raise NotApplicableError(f"{model.name} returned no attention maps in eager attention")
    return values, out


def _maps(model: Model, rows: list[Encoded], out: Any) -> list[AttentionMaps]:
    attentions, hidden_states = _cpu64(out.attentions), _cpu64(out.hidden_states)
    return [
        AttentionMaps(
            attentions=_crop(attentions, b, len(row.input_ids)),
            hidden_states=_crop(hidden_states, b, len(row.input_ids)),
        )
        for b, row in enumerate(rows)
    ]


def _crop(tensors: list[torch.Tensor], b: int, length: int) -> list[torch.Tensor]:
    """Row b's first `length` positions: (heads, T, T) attention maps, (T, hidden) hidden states."""
    return [t[b, :, :length, :length] if t.dim() == 4 else t[b, :length] for t in tensors]


def _cpu64(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    return [t.detach().to("cpu", torch.float64) for t in tensors]


class AttentionGradientMethod(Method):
    """A method that scores each target token from the attention maps and their gradients
    (`token_scores`, given that token's gradients at its read row): gae, grad-sam."""

    bounds = {"batch_size": (1, math.inf)}
    defaults = {"target_output": "logit", "batch_size": 16}
    choices = {"target_output": TARGET_OUTPUTS}
    needs_attention = True
    needs_gradients = True
    token_scores: ClassVar[TokenScores]

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        return gradient_scores(
            model,
            batch,
            type(self).token_scores,
            "attentions",
            batch_size=int(self.params["batch_size"]),
            target_output=self.params["target_output"],
        )
