"""Variants of a causal LM's input that match it before some position, run from there on.

A causal LM's positions before i do not depend on anything at or after i, so when a variant
changes the input (or, for AtMan, the attention paid to key i) from position i on, its keys and
values before i are the unchanged input's. The unchanged pass's KV cache is computed once;
variants sorted by their first changed position run in chunks, each only from its earliest
start, on top of a view of that cache (`SharedPrefixCache`). Chunks are cut where the positions
computed plus a per-pass cost are least (`suffix_chunks`). The values equal the full passes'
up to float rounding (tests compare them). Used by AtMan and occlusion.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import torch
from transformers import DynamicCache

from bench.models import Encoded, Model

Layers = list[tuple[torch.Tensor, torch.Tensor]]
"""Each layer's keys and values, (1, heads, positions, head size) each."""
PASS_COST_POSITIONS = 128
"""What one more forward pass costs, in positions, when chunks are cut: a pass streams all the
weights and small batches run slowly (SmolLM2-135M on CPU: one position alone costs ~25 batched
ones; 32 to 256 measured alike, 128 fastest)."""


class SharedPrefixCache(DynamicCache):
    """The unchanged pass's keys and values before a chunk's start, held once (batch 1) for all
    the chunk's rows. Each layer joins them with the rows' own keys and values and stores
    nothing, so a pass holds one layer's joined keys at a time, not every layer's per row."""

    @classmethod
    def of(cls, layers: Layers, start: int) -> SharedPrefixCache:
        """Views of the first `start` positions of each layer's keys and values: no copies."""
        cache = cls(ddp_cache_data=[(k[:, :, :0], v[:, :, :0]) for k, v in layers])
        for layer, (keys, values) in zip(cache.layers, layers, strict=True):
            layer.keys, layer.values = keys[:, :, :start], values[:, :, :start]
        return cache

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        prefix, rows = self.layers[layer_idx], key_states.shape[0]
        keys = torch.cat([prefix.keys.expand(rows, -1, -1, -1), key_states], dim=-2)
        return keys, torch.cat([prefix.values.expand(rows, -1, -1, -1), value_states], dim=-2)


def suffix_chunks(starts: Sequence[int], length: int, max_rows: int, pass_cost: int) -> list[slice]:
    """Cut variants, sorted by start position, into chunks of at most `max_rows` that minimise
    the positions computed (a chunk runs every row from its first start to `length`) plus
    `pass_cost` per chunk. Exact, by dynamic programming over the cut points."""
    n = len(starts)
    best = [0.0] + [math.inf] * n  # best[j]: least cost of the first j variants
    cut = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - max_rows), j):
            cost = best[i] + (j - i) * (length - starts[i]) + pass_cost
            if cost < best[j]:
                best[j], cut[j] = cost, i
    chunks = []
    while n > 0:
        chunks.append(slice(cut[n], n))
        n = cut[n]
    return chunks[::-1]


def unchanged_pass(model: Model, encoded: Encoded) -> tuple[torch.Tensor, Layers]:
    """(per-target-token log-probabilities, each layer's keys and values) of the input itself."""
    ids = encoded.input_ids[None].to(model.device)
    per_token, raw = model.forward_for_target({"input_ids": ids}, [encoded], per_token=True, use_cache=True)
    return per_token[0].cpu().double(), [(layer.keys, layer.values) for layer in raw.cache.layers]


def suffix_logprobs(
    model: Model,
    encoded: Encoded,
    layers: Layers,
    starts: torch.Tensor,
    variant_ids: torch.Tensor,
    max_rows: int,
    pass_cost: int = PASS_COST_POSITIONS,
    within: Callable[[torch.Tensor], AbstractContextManager] = lambda rows: nullcontext(),
) -> torch.Tensor:
    """(variants, target tokens) log-probabilities. Variant v reads `variant_ids[v]` (the whole
    sequence, equal to the input before `starts[v]`); `layers` are the unchanged pass's keys and
    values; `within(rows)` wraps the pass of the variants `rows` (AtMan: their suppression)."""
    order = torch.argsort(starts, stable=True)
    sorted_starts = starts[order].tolist()
    length = variant_ids.shape[1]
    out = torch.empty(len(starts), len(encoded.target_ids), dtype=torch.float64)
    for rows_slice in suffix_chunks(sorted_starts, length, max_rows, pass_cost):
        rows = order[rows_slice]
        start = sorted_starts[rows_slice.start]
        inputs = {
            "input_ids": variant_ids[rows, start:].to(model.device),
            "cache": SharedPrefixCache.of(layers, start),
        }
        with within(rows):
            per_token, _ = model.forward_for_target(inputs, [encoded] * len(rows), start, per_token=True)
        out[rows] = torch.stack(per_token).cpu().double()
    return out
