"""Soft perturbation (Zhao and Aletras 2023, "Incorporating attribution importance for improving
faithfulness metrics", ACL): instead of removing whole tokens, zero each element of token i's
input embedding with a probability set by its normalised score, so a token is removed by
degrees. The masking is ReAGent's `mask_zero_embedding` (casszhao/ReAGent,
`src/evaluation/evaluator/base_masking.py`: element-wise Bernoulli over the word embeddings,
kept where uniform < keep probability); the scores are min-max normalised over the removable
units, special tokens (and a causal LM's target) are never masked; every token of a word or
sentence unit is masked with its unit's probability.

y is the target's probability (a causal LM's per-token geometric mean, exp(mean log p), so it
stays in [0, 1] for any target length). The paper's normalisation by the all-removed input's
sufficiency S(x, 0) uses every removable embedding zeroed. Where the paper draws one mask, the
value here is the mean over `SAMPLES` seeded masks (the same for every method of an example),
an estimate of the same expectation with a tenth of the variance.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import NotApplicableError
from bench.metric import Evidence

SAMPLES = 10
SEED = 0


def normalised_scores(evidence: Evidence) -> np.ndarray | None:
    """Min-max normalised scores on the removable positions (None for constant scores)."""
    scores = np.asarray(evidence.explanation.scores, dtype=np.float64)[evidence.removable]
    if len(scores) == 0 or np.ptp(scores) == 0 or not np.isfinite(scores).all():
        return None
    return (scores - scores.min()) / np.ptp(scores)


def soft_scores(evidence: Evidence, keep: np.ndarray) -> tuple[float, np.ndarray, float]:
    """(y of the full input, y of SAMPLES soft-masked inputs, y with every removable embedding
    zeroed); `keep` is the keep probability of each removable unit."""
    if evidence.model.modality != "text":
        raise NotApplicableError("soft perturbation masks word embeddings: text models only")
    return evidence.cached(f"soft_{keep.tobytes().hex()}", lambda: _soft_scores(evidence, keep))


def _soft_scores(evidence: Evidence, keep: np.ndarray) -> tuple[float, np.ndarray, float]:
    model, encoded = evidence.model, evidence.encoded
    batch = model.batch([encoded])
    units = encoded.units
    unit_keep = np.ones(units.n_units)
    unit_keep[evidence.removable] = keep
    kept = units.expand(units.special)  # the positions never masked
    with torch.no_grad():
        embeddings = model.embedding_layer(batch["input_ids"])[0]  # (T, d): the whole sequence
        length, width = embeddings.shape
        probability = torch.ones(length, dtype=torch.float64)
        probability[: units.n_positions] = torch.from_numpy(units.expand(unit_keep))
        generator = torch.Generator().manual_seed(SEED)
        uniform = torch.rand((SAMPLES, length, width), generator=generator, dtype=torch.float64)
        emptied = torch.ones(length, dtype=torch.bool)
        emptied[: units.n_positions] = torch.from_numpy(kept)
        masks = torch.cat(
            [
                torch.ones((1, length, width), dtype=torch.bool),  # the full input
                uniform < probability[None, :, None],  # the soft-masked ones
                emptied[None, :, None].expand(1, length, width),  # every removable position zeroed
            ]
        )
        y = []
        for start in range(0, len(masks), evidence.batch_size):
            chunk = masks[start : start + evidence.batch_size].to(embeddings.device)
            inputs = {key: value.expand(len(chunk), -1) for key, value in batch.items() if key != "input_ids"}
            inputs["inputs_embeds"] = embeddings[None] * chunk.to(embeddings.dtype)
            logprob = model.target_logprob(inputs, [encoded] * len(chunk)).double().cpu()
            y.append(logprob)
        logprob = torch.cat(y).numpy()
    if model.kind == "causal-lm":
        logprob = logprob / len(encoded.target_ids)
    y = np.exp(logprob)
    return float(y[0]), y[1:-1], float(y[-1])


def soft_outputs(evidence: Evidence, keep_high: bool) -> tuple[float, np.ndarray, float] | None:
    """(y(x), y of the soft-masked copies, S(x, 0)) with keep probability = the normalised score
    (`keep_high`, sufficiency) or 1 - it (comprehensiveness); None where the metrics are
    undefined: constant scores, or an input with everything removed that keeps y (S(x, 0) = 1)."""
    scores = normalised_scores(evidence)
    if scores is None:
        return None
    full, soft, empty = soft_scores(evidence, scores if keep_high else 1.0 - scores)
    baseline = float(sufficiency(full, empty))
    return None if baseline >= 1.0 else (full, soft, baseline)


def sufficiency(full: float, reduced: np.ndarray | float) -> np.ndarray:
    """S(x, x') = 1 - max(0, p(y|x) - p(y|x'))."""
    return 1.0 - np.maximum(0.0, full - np.asarray(reduced))
