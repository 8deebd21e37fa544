"""Run a transformer once and capture its attention probabilities, for the attention baselines.

`attention`, `rollout`, `gae` and `gradcam` all read the same things: every layer's attention
probabilities (with the model switched to eager attention, the only implementation that
returns them), the hidden states, and for the gradient methods the gradient of the target's
log-probability with respect to both. In transformers 5.x the tensors returned with
`output_attentions=True` are the very tensors multiplied with V (checked in
tests/methods/test_gae.py), so their gradients are the gradients the methods need and no
custom attention function is required.

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
    attention_gradients: list[torch.Tensor] | None = None
    """d log p(target) / d attentions, same shapes; None unless gradients were asked for."""
    hidden_gradients: list[torch.Tensor] | None = None
    """d log p(target) / d hidden_states, same shapes; None unless gradients were asked for."""


def read_row(model: Model, encoded: Encoded) -> int:
    """The query position whose view of the input explains the target: [CLS] (position 0) for
    encoders and ViTs; for a causal LM the last prompt position, which predicts the first target token."""
    return encoded.n_positions - 1 if model.kind == "causal-lm" else 0


def capture(
    model: Model, batch: list[Encoded], gradients: bool = False, batch_size: int = 16
) -> list[AttentionMaps]:
    """Attention maps (and with `gradients`, their gradients) of every input, `batch_size` rows per pass."""
    maps: list[AttentionMaps] = []
    with model.attention_implementation("eager"):
        for start in range(0, len(batch), batch_size):
            maps += _capture_chunk(model, batch[start : start + batch_size], gradients)
    return maps


def _capture_chunk(model: Model, rows: list[Encoded], gradients: bool) -> list[AttentionMaps]:
    with torch.set_grad_enabled(gradients):
        logprob, out = model.forward_for_target(
            model.batch(rows), rows, output_attentions=True, output_hidden_states=True
        )
        if not out.attentions:
            raise NotApplicableError(f"{model.name} returned no attention maps in eager attention")
        attentions, hidden_states = list(out.attentions), list(out.hidden_states)
        attention_grads = hidden_grads = None
        if gradients:
            # the last layer's non-reading positions never reach the target: zero, not None
            grads = torch.autograd.grad(
                logprob.sum(), attentions + hidden_states, allow_unused=True, materialize_grads=True
            )
            attention_grads, hidden_grads = grads[: len(attentions)], grads[len(attentions) :]

    attentions, hidden_states = _cpu64(attentions), _cpu64(hidden_states)
    attention_grads, hidden_grads = _cpu64(attention_grads), _cpu64(hidden_grads)
    maps = []
    for b, row in enumerate(rows):
        length = len(row.input_ids)
        maps.append(
            AttentionMaps(
                attentions=_crop(attentions, b, length),
                hidden_states=_crop(hidden_states, b, length),
                attention_gradients=_crop(attention_grads, b, length),
                hidden_gradients=_crop(hidden_grads, b, length),
            )
        )
    return maps


def _crop(tensors: list[torch.Tensor] | None, b: int, length: int) -> list[torch.Tensor] | None:
    """Row b's first `length` positions: (heads, T, T) attention maps, (T, hidden) hidden states."""
    if tensors is None:
        return None
    return [t[b, :, :length, :length] if t.dim() == 4 else t[b, :length] for t in tensors]


def _cpu64(tensors: list[torch.Tensor] | None) -> list[torch.Tensor] | None:
    return None if tensors is None else [t.detach().to("cpu", torch.float64) for t in tensors]
