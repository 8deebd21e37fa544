"""AtMan: attention suppression (Deiseroth et al. 2023, arXiv 2301.08110).

For each input unit i (a token by default; a word or sentence is all its tokens, suppressed
together in one variant: bench/units.py), every layer and head scales down the attention paid
to i's keys (pre-softmax scores shifted by their row minimum, the columns multiplied by 1 - f),
and the score of i is how much the target's cross-entropy rises: CE(target | i suppressed) -
CE(target).
Positive scores support the target. Inputs are never edited; the suppression lives in the
attention function (bench/attention.py). All variants run as batched forward passes, chunked
by `batch_size`, with no gradients.

Ported from Aleph-Alpha/AtMan: `atman_magma/explainer.py` (one variant per suppressed
position, the unsuppressed pass first), `manipulate_attention.py` (the shifted, scaled scores;
`row_min="all"` is its minimum over every key before the causal mask, `"valid"` ours over the
unmasked keys), `conceptual_suppression.py` (with `conceptual_threshold` kappa, the positions
whose input embeddings have cosine similarity >= kappa with i are suppressed with it, by
1 - f * similarity; the similarities span every position the model reads, a causal LM's target
tokens included, and a ViT's patches compare by their patch embeddings) and `logit_parsing.py`
(the per-target-token cross-entropy change; `aggregate="squared"` sums its squares over the
target tokens, as the official evaluation's `square_outputs=True` does, `"sum"` keeps the sign
and is the change of the whole target's cross-entropy). The reference's `suppression_factor`
is our 1 - f: its 0.1 is our default f = 0.9.

Causal LMs take a shortcut that changes no score: suppressing key i leaves every position
before i untouched, so the unsuppressed pass's KV cache is computed once and each chunk of
variants (sorted by their first suppressed position) runs only the positions from there on
(`bench/prefix_reuse.py`, shared with occlusion).

Words and sentences are not in the paper, which suppresses single tokens: a unit's variant
suppresses each of its keys as that key's own variant would (with a conceptual threshold, a
position resembling several of the unit's tokens takes its strongest suppression).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from bench.attention import ROW_MINIMA, SUPPRESSED_ATTENTION, first_scaled_key, suppress
from bench.errors import NotApplicableError
from bench.method import Method, register_method
from bench.models import Encoded, Model
from bench.prefix_reuse import PASS_COST_POSITIONS, suffix_logprobs, unchanged_pass

AGGREGATES = ("sum", "squared")


@register_method("atman")
class AtMan(Method):
    name = "atman"
    bounds = {
        "suppression_factor": (0.0, 1.0),
        "conceptual_threshold": (0.0, 1.0),
        "batch_size": (1, math.inf),
        "pass_cost_positions": (0, math.inf),
        "max_chunk_tokens": (1, math.inf),
    }
    defaults = {
        "suppression_factor": 0.9,
        "conceptual_threshold": None,
        "aggregate": "sum",
        "row_min": "valid",
        "batch_size": 32,  # rows per forward pass, at most
        # tokens per forward pass, at most (rows x padded length): attention's rows x L^2 cells
        # outgrow CPU caches (MiniLM at 256 tokens: 2 rows per pass ran 1.5x faster than 32);
        # "auto" is 1024 on CPU and no limit on GPU; None is no limit
        "max_chunk_tokens": "auto",
        "prefix_reuse": True,
        "pass_cost_positions": PASS_COST_POSITIONS,  # see bench/prefix_reuse.py
    }
    choices = {"aggregate": AGGREGATES, "row_min": ROW_MINIMA}
    needs_attention = True
    scores_units = True

    def suppression_factors(self, model: Model, encoded: Encoded) -> torch.Tensor:
        """(units + 1, L) multipliers over the L positions the model reads: row 0 suppresses
        nothing, row 1 + u suppresses every position of unit u (and, with a conceptual threshold,
        every position whose embedding resembles one of them, a causal LM's target tokens
        included)."""
        n, length = encoded.n_positions, len(encoded.input_ids)
        f = float(self.params["suppression_factor"])
        per_position = torch.ones(n, length, dtype=torch.float64)
        kappa = self.params["conceptual_threshold"]
        if kappa is not None:
            similarity = self._embedding_similarity(model, encoded)[:n]
            related = (similarity >= float(kappa)).double()
            per_position = 1 - f * similarity * related
        per_position[:, :n].diagonal().fill_(1 - f)
        factors = torch.ones(encoded.units.n_units + 1, length, dtype=torch.float64)
        # a unit's row: each key as suppressed by the unit's position that suppresses it most
        factors[1:] = torch.from_numpy(np.minimum.reduceat(per_position.numpy(), encoded.units.starts[:-1]))
        return factors

    @staticmethod
    def _embedding_similarity(model: Model, encoded: Encoded) -> torch.Tensor:
        """(L, L) cosine similarities of the input embeddings: token embeddings, or a ViT's patch
        embeddings (before position embeddings; [CLS] has none and resembles only itself)."""
        with torch.no_grad():
            if model.kind != "image-classifier":
                embeddings = model.embedding_layer(encoded.input_ids.to(model.device))
            else:
                embeddings = model.embedding_layer(model.batch([encoded])["pixel_values"])[0]
        embeddings = torch.nn.functional.normalize(embeddings.double(), dim=-1)
        similarity = (embeddings @ embeddings.T).cpu()
        if model.kind != "image-classifier":
            return similarity
        if len(similarity) >= len(encoded.input_ids):
            raise NotApplicableError("conceptual suppression needs patch embeddings besides [CLS]")
        whole = torch.eye(len(encoded.input_ids), dtype=torch.float64)
        whole[-len(similarity) :, -len(similarity) :] = similarity
        return whole

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        factors = [self.suppression_factors(model, encoded) for encoded in batch]
        return self.scores_from_factors(model, batch, factors)

    def scores_from_factors(
        self, model: Model, batch: list[Encoded], factors: list[torch.Tensor]
    ) -> list[np.ndarray]:
        """Per input, one score per suppressed variant: its rows of `factors` after row 0 (which
        suppresses nothing), aggregated over the target tokens."""
        return [scores.sum(-1).numpy() for scores in self.target_token_scores(model, batch, factors)]

    def target_token_scores(
        self, model: Model, batch: list[Encoded], factors: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """Per input, (variants, target tokens): each target token's cross-entropy change under
        each variant, or its square (`aggregate`); a score is their sum over the target tokens."""
        with torch.no_grad(), model.attention_implementation(SUPPRESSED_ATTENTION):
            if model.kind == "causal-lm" and self.params["prefix_reuse"]:
                logprobs = [
                    self._prefix_reuse_logprobs(model, e, f) for e, f in zip(batch, factors, strict=True)
                ]
            else:
                logprobs = self._batched_logprobs(model, batch, factors)
        # per target token, CE(suppressed) - CE(plain) = log p(plain) - log p(suppressed)
        deltas = [lp[0] - lp[1:] for lp in logprobs]
        return [delta**2 for delta in deltas] if self.params["aggregate"] == "squared" else deltas

    def attribute_per_token(self, model: Model, batch: list[Encoded]) -> list[tuple[np.ndarray, np.ndarray]]:
        """All rows from the whole target's variants: token t's cross-entropy change is read at
        the position that predicts it, which sees the prompt and the tokens before t only, just
        as when t alone is the target (the prompt's KV cache serves every token). With
        `row_min="all"` a row's minimum spans later keys too, so each token runs on its own."""
        if self.params["row_min"] != "valid":
            return super().attribute_per_token(model, batch)
        factors = [self.suppression_factors(model, encoded) for encoded in batch]
        per_token = [scores.T.numpy() for scores in self.target_token_scores(model, batch, factors)]
        return [(matrix.sum(0), matrix) for matrix in per_token]

    def _batched_logprobs(
        self, model: Model, batch: list[Encoded], factors: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """(variants, target tokens) log-probabilities per input, in padded chunks (`row_chunks`)."""
        rows = [encoded for encoded, f in zip(batch, factors, strict=True) for _ in range(len(f))]
        row_factors = [row for f in factors for row in f]
        logprobs: list[torch.Tensor] = []
        lengths = [len(row.input_ids) for row in rows]
        for chunk_slice in row_chunks(lengths, int(self.params["batch_size"]), self.chunk_token_limit(model)):
            start, chunk = chunk_slice.start, rows[chunk_slice]
            key_factors = torch.ones(len(chunk), max(lengths[chunk_slice]), dtype=torch.float64)
            for r, row in enumerate(chunk):
                key_factors[r, : len(row.input_ids)] = row_factors[start + r]
            with suppress(key_factors.to(model.device), row_min=self.params["row_min"]):
                per_token, _ = model.forward_for_target(model.batch(chunk), chunk, per_token=True)
            logprobs += [values.cpu().double() for values in per_token]
        sizes = np.cumsum([0] + [len(f) for f in factors])
        return [torch.stack(logprobs[a:b]) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]

    def chunk_token_limit(self, model: Model) -> int | float:
        """`max_chunk_tokens` resolved for this model's device (math.inf: no limit)."""
        return chunk_token_limit(self.params["max_chunk_tokens"], model)

    def _prefix_reuse_logprobs(self, model: Model, encoded: Encoded, factors: torch.Tensor) -> torch.Tensor:
        """The same values as the batched path for a causal LM, computing each variant only from
        its first suppressed position on, on top of the unsuppressed pass's KV cache
        (`bench/prefix_reuse.py`)."""
        row_min = self.params["row_min"]
        with suppress(factors[:1].to(model.device), row_min=row_min):
            plain, layers = unchanged_pass(model, encoded)
        # every row of a chunk attends over all the input's keys: rows x length is its memory
        length = len(encoded.input_ids)
        max_rows = int(self.params["batch_size"])
        if math.isfinite(max_tokens := self.chunk_token_limit(model)):
            max_rows = min(max_rows, max(1, int(max_tokens // length)))
        variants = factors[1:]
        suppressed = suffix_logprobs(
            model,
            encoded,
            layers,
            first_scaled_key(variants),
            encoded.input_ids[None].expand(len(variants), -1),
            max_rows,
            int(self.params["pass_cost_positions"]),
            within=lambda rows: suppress(variants[rows].to(model.device), row_min=row_min),
        )
        return torch.cat([plain[None], suppressed])


def chunk_token_limit(limit: int | str | None, model: Model) -> int | float:
    """A `max_chunk_tokens` setting resolved for the model's device: "auto" is 1024 on CPU and no
    limit (math.inf) on GPU, None is no limit."""
    if limit == "auto":
        limit = None if model.device.type == "cuda" else 1024
    return math.inf if limit is None else int(limit)


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
