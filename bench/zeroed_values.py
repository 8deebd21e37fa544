"""Attention in which chosen tokens' value vectors are zero, plugged in through AttentionInterface.

Value zeroing (Mohebbi et al. 2023, arXiv 2301.12971) asks how much each token's output changes
when token j's value vector is set to zero in every head, for every query, while the queries,
keys and so the attention weights stay as they are. `value_zeroed_attention` does that: row b
of the batch zeroes the values of the keys marked in row b of the spec set by `zero_values(...)`
(a context manager holding it in a ContextVar, as AtMan's `suppress` does, so nothing leaks
between calls or threads), then attends as eager attention does (`suppressed_attention` with no
suppression active). Grouped-query heads share a value head, so zeroing it zeroes the token for
every query head, as zeroing per query head would.
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

from bench.attention import suppressed_attention
from bench.errors import AttentionNotReachableError

VALUE_ZEROED_ATTENTION = "xai_bench_value_zeroed"


@dataclass
class ZeroedValues:
    """Which keys' value vectors each batch row zeroes, in every attention layer it reaches.

    `keys` is (batch, key_length) bool. `calls` counts the attention layers that applied it, so
    callers can tell when a model's attention never went through the interface.
    """

    keys: torch.Tensor
    calls: int = 0


_ACTIVE: ContextVar[ZeroedValues | None] = ContextVar("xai_bench_zeroed_values", default=None)


@contextmanager
def zero_values(keys: torch.Tensor) -> Iterator[ZeroedValues]:
    """Zero, in batch row b, the value vectors of the keys where `keys[b]` is True, in every
    attention layer run in the body.

    Raises AttentionNotReachableError if no layer applied it: the model's attention does not go
    through the registered function, and any scores would be fake.
    """
    spec = ZeroedValues(keys)
    token = _ACTIVE.set(spec)
    try:
        yield spec
    finally:
        _ACTIVE.reset(token)
    if spec.calls == 0:
        raise AttentionNotReachableError(
            "the model never called the registered attention function, so its value vectors cannot "
            "be zeroed (it does not route attention through transformers' AttentionInterface)"
        )


def value_zeroed_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    spec = _ACTIVE.get()
    if spec is not None:
        spec.calls += 1
        zeroed = spec.keys[:, None, : value.shape[-2], None].to(value.device)
        value = value.masked_fill(zeroed, 0.0)
    return suppressed_attention(module, query, key, value, attention_mask, scaling, dropout, **kwargs)


AttentionInterface.register(VALUE_ZEROED_ATTENTION, value_zeroed_attention)
# Without a mask function of its own, a custom attention name silently loses the padding mask.
AttentionMaskInterface.register(VALUE_ZEROED_ATTENTION, eager_mask)
