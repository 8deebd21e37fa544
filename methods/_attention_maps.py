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
log-probability), since a method that is not linear in the gradient cannot use the sum's.

Rows of a batch are right-padded; each row's maps are cropped to its own length, so padding
never changes a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.errors import NotApplicableError
from bench.models import Encoded, Model


@dataclass
class AttentionMaps:
    """One input's maps, float64 on the CPU, cropped to its T = len(input_ids) positions."""

    attentions: list[torch.Tensor]
    """Per layer, (heads, T, T) attention probabilities; row = query, column = key."""
    hidden_states: list[torch.Tensor]
    """The embeddings, then each layer's output: (T, hidden) each."""
    attention_gradients: list[list[torch.Tensor]] | None = None
    """Per target token, d output / d attentions (per layer, same shapes); None unless asked for."""
    hidden_gradients: list[list[torch.Tensor]] | None = None
    """Per target token, d output / d hidden_states (per layer, same shapes); None unless asked for."""


def read_rows(model: Model, encoded: Encoded) -> list[int]:
    """The query positions whose view of the input explains the target, one per target token:
    [CLS] (position 0) for encoders and ViTs; for a causal LM, P - 1 + t for target token t."""
    if model.kind != "causal-lm":
        return [0]
    return [encoded.n_positions - 1 + t for t in range(len(encoded.target_ids))]


def capture(
    model: Model,
    batch: list[Encoded],
    gradients: bool = False,
    batch_size: int = 16,
    target_output: str = "logprob",
) -> list[AttentionMaps]:
    """Attention maps (and with `gradients`, their gradients per target token) of every input,
    `batch_size` rows per forward pass and one backward pass per target token."""
    maps: list[AttentionMaps] = []
    with model.attention_implementation("eager"):
        for start in range(0, len(batch), batch_size):
            maps += _capture_chunk(model, batch[start : start + batch_size], gradients, target_output)
    return maps


def _capture_chunk(
    model: Model, rows: list[Encoded], gradients: bool, target_output: str
) -> list[AttentionMaps]:
    with torch.set_grad_enabled(gradients):
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
        attentions, hidden_states = list(out.attentions), list(out.hidden_states)
        per_token: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []
        if gradients:
            # rows are independent, so one backward of token t summed over the rows gives each
            # row its own token's gradients; rows with fewer target tokens sit the later ones out
            longest = max(len(v) for v in values)
            for t in range(longest):
                output = sum(v[t] for v in values if len(v) > t)
                # the last layer's non-reading positions never reach the target: zero, not None
                grads = torch.autograd.grad(
                    output,
                    attentions + hidden_states,
                    retain_graph=t < longest - 1,
                    allow_unused=True,
                    materialize_grads=True,
                )
                per_token.append((_cpu64(grads[: len(attentions)]), _cpu64(grads[len(attentions) :])))

    attentions, hidden_states = _cpu64(attentions), _cpu64(hidden_states)
    maps = []
    for b, (row, row_values) in enumerate(zip(rows, values, strict=True)):
        length = len(row.input_ids)
        tokens = per_token[: len(row_values)]
        maps.append(
            AttentionMaps(
                attentions=_crop(attentions, b, length),
                hidden_states=_crop(hidden_states, b, length),
                attention_gradients=[_crop(a, b, length) for a, _ in tokens] if gradients else None,
                hidden_gradients=[_crop(h, b, length) for _, h in tokens] if gradients else None,
            )
        )
    return maps


def _crop(tensors: list[torch.Tensor], b: int, length: int) -> list[torch.Tensor]:
    """Row b's first `length` positions: (heads, T, T) attention maps, (T, hidden) hidden states."""
    return [t[b, :, :length, :length] if t.dim() == 4 else t[b, :length] for t in tensors]


def _cpu64(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    return [t.detach().to("cpu", torch.float64) for t in tensors]
