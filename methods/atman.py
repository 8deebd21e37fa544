"""AtMan: attention suppression (Deiseroth et al. 2023, arXiv 2301.08110).

For each input position i, every layer and head scales down the attention paid to key i
(pre-softmax scores shifted by their row minimum, column i multiplied by 1 - f), and the score
of i is how much the target's cross-entropy rises: CE(target | i suppressed) - CE(target).
Positive scores support the target. All suppression variants of one explanation run as one
batched forward pass, chunked by `batch_size`, with no gradients; inputs are never edited.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.attention import SUPPRESSED_ATTENTION, suppress
from bench.errors import AttentionNotReachableError, NotApplicableError
from bench.method import Method, register_method
from bench.models import Encoded, Model


@register_method("atman")
class AtMan(Method):
    name = "atman"
    defaults = {"suppression_factor": 0.9, "conceptual_threshold": None, "batch_size": 32}
    needs_attention = True

    def suppression_factors(self, model: Model, encoded: Encoded) -> torch.Tensor:
        """(n + 1, n) multipliers: row 0 suppresses nothing, row 1 + i suppresses position i
        (and, with a conceptual threshold, the positions whose embeddings resemble it)."""
        n = encoded.n_positions
        f = float(self.params["suppression_factor"])
        factors = torch.ones(n + 1, n)
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
        rows: list[Encoded] = []
        row_factors: list[torch.Tensor] = []
        for encoded in batch:
            factors = self.suppression_factors(model, encoded)
            rows.extend([encoded] * len(factors))
            row_factors.extend(factors)
        logprobs = torch.empty(len(rows))
        size = int(self.params["batch_size"])
        with torch.no_grad(), model.attention_implementation(SUPPRESSED_ATTENTION):
            for start in range(0, len(rows), size):
                chunk = rows[start : start + size]
                inputs = model.batch(chunk)
                key_length = max(len(row.input_ids) for row in chunk)  # the padded sequence
                factors = torch.ones(len(chunk), key_length)
                for r, row_factor in enumerate(row_factors[start : start + size]):
                    factors[r, : len(row_factor)] = row_factor
                with suppress(factors.to(model.device)) as spec:
                    logprobs[start : start + len(chunk)] = model.target_logprob(inputs, chunk).cpu()
                if spec.calls == 0:
                    raise AttentionNotReachableError(
                        f"{type(model.hf).__name__} never called the registered attention function, "
                        "so AtMan cannot suppress its attention"
                    )
        scores, offset = [], 0
        for encoded in batch:
            n = encoded.n_positions
            base = logprobs[offset]
            scores.append((base - logprobs[offset + 1 : offset + 1 + n]).double().numpy())
            offset += n + 1
        return scores
