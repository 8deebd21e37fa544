"""Attention math that explanation methods change, plugged in through transformers' AttentionInterface.

`suppressed_attention` is AtMan's attention (arXiv 2301.08110): the pre-softmax scores of every
row are shifted by their minimum and multiplied, column by column, by a per-key factor (1 - f
for a suppressed key, 1 elsewhere), before the additive mask and the softmax. The minimum is
over the row's valid keys (`row_min="valid"`), or over every key of the sequence, the causally
masked ones included (`"all"`, as Aleph-Alpha/AtMan `atman_magma/manipulate_attention.py` takes
it from the raw scores before the causal mask; padding keys are never counted). Rows that scale
a few keys (exact AtMan: one; conceptual suppression: a few) rewrite only those columns, which
the softmax cannot tell apart. The factors for the current forward pass come from
`suppress(...)`, a context manager holding them in a ContextVar, so nothing leaks between calls
or threads.
With no factors set it is eager attention (up to rounding: it scales the queries, not the
scores).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.masking_utils import eager_mask

from bench.errors import AttentionNotReachableError

SUPPRESSED_ATTENTION = "xai_bench_suppressed"
ROW_MINIMA = ("valid", "all")


@dataclass
class Suppression:
    """Per-row, per-key multipliers for the pre-softmax scores of every layer and head.

    `factors` has shape (batch, key_length): row b of the batch scales key j by factors[b, j].
    `calls` counts attention layers that applied it, so callers can tell when a model's
    attention never went through the interface. When `recorded` is a list, every layer appends
    its row-min-shifted scores (detached) and its attention weights (in the autograd graph).
    """

    factors: torch.Tensor
    row_min: str = "valid"
    """Which keys a row's minimum is taken over: "valid" (unmasked) or "all" (every non-padding key)."""
    calls: int = 0
    recorded: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    scaled_keys: tuple[torch.Tensor, torch.Tensor] | None = None
    """(rows, k) key indices and their factors when every row scales at most k keys, k small
    (exact AtMan: 1; with conceptual suppression a few), no gradient flows and nothing is
    recorded: then a layer rewrites only those columns."""

    def __post_init__(self) -> None:
        counts = (self.factors != 1).sum(-1)
        k = max(1, int(counts.max()))
        if self.recorded is None and not self.factors.requires_grad and k <= sparse_key_limit(self.factors):
            # each row's scaled keys first; a row with fewer repeats its first one (the same value
            # is written twice), a row with none rewrites key 0 with factor 1
            order = torch.argsort((self.factors == 1).to(torch.uint8), dim=-1, stable=True)[:, :k]
            repeat = torch.arange(k, device=order.device)[None, :] >= counts[:, None].clamp(min=1)
            index = torch.where(repeat, order[:, :1], order)
            self.scaled_keys = (index, self.factors.gather(-1, index))


def sparse_key_limit(factors: torch.Tensor) -> int:
    """The most scaled keys per row for which rewriting columns beats the dense pass: an eighth
    of the keys (at least one)."""
    return max(1, factors.shape[-1] // 8)


def first_scaled_key(factors: torch.Tensor) -> torch.Tensor:
    """Per row of (rows, keys) factors, the first key whose factor is not 1 (0 if none is)."""
    return (factors != 1).to(torch.uint8).argmax(-1)


_ACTIVE: ContextVar[Suppression | None] = ContextVar("xai_bench_suppression", default=None)


@contextmanager
def suppress(factors: torch.Tensor, record: bool = False, row_min: str = "valid") -> Iterator[Suppression]:
    """Apply per-row key factors to every attention layer of the forward passes in the body
    (and, with `record`, keep each layer's shifted scores and weights on the yielded spec);
    `row_min` says which keys each row's minimum is taken over (see `Suppression`).

    Raises AttentionNotReachableError if no layer applied them: the model's attention does not
    go through the registered function, and any scores would be fake.
    """
    if row_min not in ROW_MINIMA:
        raise ValueError(f"row_min={row_min!r} is not one of {', '.join(ROW_MINIMA)}")
    spec = Suppression(factors, row_min=row_min, recorded=[] if record else None)
    token = _ACTIVE.set(spec)
    try:
        yield spec
    finally:
        _ACTIVE.reset(token)
    if spec.calls == 0:
        raise AttentionNotReachableError(
            "the model never called the registered attention function, so its attention cannot be "
            "suppressed (it does not route attention through transformers' AttentionInterface)"
        )


def _scale_keys(
    scores: torch.Tensor, row_min: torch.Tensor, index: torch.Tensor, factor: torch.Tensor
) -> torch.Tensor:
    """The scores with keys index[b] of batch row b shifted and scaled, and the other keys left
    as they are: the softmax ignores a shift shared by a whole row, so this equals scaling
    (scores - row_min) column by column, in one pass over k columns instead of three over the
    whole (rows, heads, queries, keys) tensor."""
    index = index.to(scores.device)[:, None, None, :].expand(*scores.shape[:-1], index.shape[-1])
    columns = scores.gather(-1, index)
    factor = factor.to(scores.device, scores.dtype)[:, None, None, :]
    return scores.scatter_(-1, index, row_min + (columns - row_min) * factor)


def suppressed_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    batch, heads, queries, dim = query.shape
    key_heads = key.shape[1]
    if scaling is None:
        scaling = dim**-0.5
    # grouped-query heads (GQA) share a key/value head: stack each group's queries on it instead
    # of copying keys and values once per query head; and scale the queries, the smaller operand
    grouped = (query * scaling).reshape(batch, key_heads, -1, dim)
    scores = torch.matmul(grouped, key.transpose(-1, -2)).view(batch, heads, queries, -1)
    spec = _ACTIVE.get()
    if spec is not None:
        spec.calls += 1
        if attention_mask is None:
            row_min = scores.amin(dim=-1, keepdim=True)
        else:
            valid = attention_mask[..., : scores.shape[-1]] > torch.finfo(scores.dtype).min / 2
            if spec.row_min == "all":  # a key valid for any query is no padding
                valid = valid.any(dim=-2, keepdim=True)
            row_min = torch.where(valid, scores, torch.inf).amin(dim=-1, keepdim=True)
            row_min = torch.where(torch.isinf(row_min), 0.0, row_min)  # rows with no valid key
        if spec.scaled_keys is None:
            shifted = scores - row_min
            scores = shifted * spec.factors.to(scores.dtype)[:, None, None, :]
        else:
            scores = _scale_keys(scores, row_min, *spec.scaled_keys)
    if attention_mask is not None:
        scores = scores + attention_mask[..., : scores.shape[-1]]
    if scores.dtype in (torch.float16, torch.bfloat16):  # half precision: softmax in float32
        weights = scores.softmax(dim=-1, dtype=torch.float32).to(value.dtype)
    else:
        weights = scores.softmax(dim=-1)
    if spec is not None and spec.recorded is not None:
        spec.recorded.append((shifted.detach(), weights))
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights.reshape(batch, key_heads, -1, weights.shape[-1]), value)
    output = output.view(batch, heads, queries, dim).transpose(1, 2).contiguous()
    return output, weights


AttentionInterface.register(SUPPRESSED_ATTENTION, suppressed_attention)
# Without a mask function of its own, a custom attention name silently loses the padding mask.
AttentionMaskInterface.register(SUPPRESSED_ATTENTION, eager_mask)
