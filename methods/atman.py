"""AtMan: attention suppression (Deiseroth et al. 2023, arXiv 2301.08110).

For each input position i, every layer and head scales down the attention paid to key i
(pre-softmax scores shifted by their row minimum, column i multiplied by 1 - f), and the score
of i is how much the target's cross-entropy rises: CE(target | i suppressed) - CE(target).
Positive scores support the target. Inputs are never edited; the suppression lives in the
attention function (bench/attention.py). All variants run as batched forward passes, chunked
by `batch_size`, with no gradients.

Causal LMs take a shortcut that changes no score: suppressing key i leaves every position
before i untouched, so the unsuppressed pass's KV cache is computed once and each chunk of
variants (sorted by their first suppressed position) runs only the positions from there on.
A chunk runs all its rows from its earliest start, so chunks are cut where that wastes least
(`suffix_chunks`): later variants, with short suffixes, go in small chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from transformers import DynamicCache

from bench.attention import SUPPRESSED_ATTENTION, first_scaled_key, suppress
from bench.errors import NotApplicableError
from bench.method import Method, register_method
from bench.models import Encoded, Model


@register_method("atman")
class AtMan(Method):
    name = "atman"
    defaults = {
        "suppression_factor": 0.9,
        "conceptual_threshold": None,
        "batch_size": 32,  # rows per forward pass, at most
        # tokens per forward pass, at most (rows x padded length): attention's rows x L^2 cells
        # outgrow CPU caches (MiniLM at 256 tokens: 2 rows per pass ran 1.5x faster than 32);
        # "auto" is 1024 on CPU and no limit on GPU; None is no limit
        "max_chunk_tokens": "auto",
        "prefix_reuse": True,
        # what one more forward pass costs, in positions, when prefix reuse cuts its chunks: a
        # pass streams all weights and small batches run slowly (SmolLM2-135M shape on CPU: one
        # position alone costs ~25 batched ones; 32 to 256 measured alike, 128 fastest)
        "pass_cost_positions": 128,
    }
    needs_attention = True

    def suppression_factors(self, model: Model, encoded: Encoded) -> torch.Tensor:
        """(n + 1, n) multipliers: row 0 suppresses nothing, row 1 + i suppresses position i
        (and, with a conceptual threshold, the positions whose embeddings resemble it)."""
        n = encoded.n_positions
        f = float(self.params["suppression_factor"])
        factors = torch.ones(n + 1, n, dtype=torch.float64)
        kappa = self.params["conceptual_threshold"]
        if kappa is not None:
            similarity = self._embedding_similarity(model, encoded)
            related = (similarity >= float(kappa)).float()
            factors[1:] = 1 - f * similarity * related
        factors[1:].diagonal().fill_(1 - f)
        return factors

    @staticmethod
    def _embedding_similarity(model: Model, encoded: Encoded) -> torch.Tensor:
        if model.kind == "image-classifier":
            raise NotApplicableError("conceptual suppression needs token embeddings; images have none")
        with torch.no_grad():
            embeddings = model.embedding_layer(encoded.input_ids[: encoded.n_positions].to(model.device))
        embeddings = torch.nn.functional.normalize(embeddings.float(), dim=-1)
        return (embeddings @ embeddings.T).cpu()

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        factors = [self.suppression_factors(model, encoded) for encoded in batch]
        with torch.no_grad(), model.attention_implementation(SUPPRESSED_ATTENTION):
            if model.kind == "causal-lm" and self.params["prefix_reuse"]:
                logprobs = [
                    self._prefix_reuse_logprobs(model, e, f) for e, f in zip(batch, factors, strict=True)
                ]
            else:
                logprobs = self._batched_logprobs(model, batch, factors)
        # CE(suppressed) - CE(plain) = log p(plain) - log p(suppressed)
        return [(lp[0] - lp[1:]).double().numpy() for lp in logprobs]

    def _batched_logprobs(
        self, model: Model, batch: list[Encoded], factors: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """log p(target) for every variant of every input, in padded chunks (`row_chunks`)."""
        rows = [encoded for encoded, f in zip(batch, factors, strict=True) for _ in range(len(f))]
        row_factors = [row for f in factors for row in f]
        logprobs = torch.empty(len(rows), dtype=torch.float64)
        lengths = [len(row.input_ids) for row in rows]
        for chunk_slice in row_chunks(lengths, int(self.params["batch_size"]), self.chunk_token_limit(model)):
            start, chunk = chunk_slice.start, rows[chunk_slice]
            key_factors = torch.ones(
                len(chunk), max(len(row.input_ids) for row in chunk), dtype=torch.float64
            )
            for r, row in enumerate(chunk):
                key_factors[r, : row.n_positions] = row_factors[start + r]
            with suppress(key_factors.to(model.device)):
                logprobs[start : start + len(chunk)] = (
                    model.target_logprob(model.batch(chunk), chunk).cpu().double()
                )
        sizes = [len(f) for f in factors]
        return list(torch.split(logprobs, sizes))

    def chunk_token_limit(self, model: Model) -> int | float:
        """`max_chunk_tokens` resolved for this model's device (math.inf: no limit)."""
        limit = self.params["max_chunk_tokens"]
        if limit == "auto":
            limit = None if model.device.type == "cuda" else 1024
        return math.inf if limit is None else int(limit)

    def _prefix_reuse_logprobs(self, model: Model, encoded: Encoded, factors: torch.Tensor) -> torch.Tensor:
        """The same values as the batched path for a causal LM, computing each variant only from
        its first suppressed position on, on top of the unsuppressed pass's KV cache."""
        ids = encoded.input_ids[None].to(model.device)
        length = ids.shape[1]
        key_factors = torch.ones(len(factors), length, dtype=torch.float64)
        key_factors[:, : encoded.n_positions] = factors
        with suppress(key_factors[:1].to(model.device)):
            plain_logprob, plain = model.forward_for_target({"input_ids": ids}, [encoded], use_cache=True)
        logprobs = torch.empty(len(factors), dtype=torch.float64)
        logprobs[0] = plain_logprob[0].cpu().double()
        layers = [(layer.keys, layer.values) for layer in plain.cache.layers]
        # first suppressed position of each variant; variants sorted by it share the longest prefix
        first = first_scaled_key(factors[1:])
        order = torch.argsort(first, stable=True) + 1
        starts = first[order - 1].tolist()
        # every row of a chunk attends over all `length` keys: rows x length is its memory
        max_rows = int(self.params["batch_size"])
        if math.isfinite(max_tokens := self.chunk_token_limit(model)):
            max_rows = min(max_rows, max(1, int(max_tokens // length)))
        chunks = suffix_chunks(starts, length, max_rows, int(self.params["pass_cost_positions"]))
        for rows_slice in chunks:
            chunk = order[rows_slice]
            start, rows = starts[rows_slice.start], len(chunk)
            cache = _SharedPrefixCache.of(layers, start)
            inputs = {"input_ids": ids[:, start:].expand(rows, -1), "cache": cache}
            with suppress(key_factors[chunk].to(model.device)):
                logprobs[chunk] = model.target_logprob(inputs, [encoded] * rows, start).cpu().double()
        return logprobs


class _SharedPrefixCache(DynamicCache):
    """The unsuppressed pass's keys and values before a chunk's start, held once (batch 1) for
    all the chunk's rows. Each layer joins them with the rows' own keys and values and stores
    nothing, so a pass holds one layer's joined keys at a time, not every layer's per row."""

    @classmethod
    def of(cls, layers: list[tuple[torch.Tensor, torch.Tensor]], start: int) -> _SharedPrefixCache:
        """Views of the first `start` positions of each layer's keys and values: no copies."""
        cache = cls(ddp_cache_data=[(k[:, :, :0], v[:, :, :0]) for k, v in layers])
        for layer, (keys, values) in zip(cache.layers, layers, strict=True):
            layer.keys, layer.values = keys[:, :, :start], values[:, :, :start]
        return cache

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        prefix, rows = self.layers[layer_idx], key_states.shape[0]
        keys = torch.cat([prefix.keys.expand(rows, -1, -1, -1), key_states], dim=-2)
        return keys, torch.cat([prefix.values.expand(rows, -1, -1, -1), value_states], dim=-2)


def row_chunks(lengths: Sequence[int], max_rows: int, max_tokens: int | float) -> list[slice]:
    """Consecutive chunks of rows, each as long as `max_rows` and `max_tokens` (rows times the
    chunk's longest row, as padded) allow; a row longer than `max_tokens` runs alone."""
    chunks, start, longest = [], 0, 0
    for end, length in enumerate(lengths):
        longest = max(longest, length)
        rows = end - start + 1
        if end > start and (rows > max_rows or rows * longest > max_tokens):
            chunks.append(slice(start, end))
            start, longest = end, length
    return chunks + [slice(start, len(lengths))] if lengths else chunks


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
