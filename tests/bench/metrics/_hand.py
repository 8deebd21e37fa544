"""Independent hand computations the metric tests compare against: one plain forward per input."""

from __future__ import annotations

import numpy as np
import torch

import bench
from bench.models import Model

TEXT = "free cash call now hello how are you the prize"


def explained(model: Model, scores: np.ndarray | None = None, target=1, text: str = TEXT):
    """(encoded, explanation) with the given scores (default: a fixed shuffled ordering)."""
    encoded = model.encode(text, target)
    if scores is None:
        scores = np.random.default_rng(3).permutation(encoded.n_positions).astype(float)
    explanation = bench.Explanation(
        tokens=encoded.tokens, scores=scores, target=encoded.target, special_tokens=encoded.special
    )
    return encoded, explanation


def ranked(encoded, scores) -> list[int]:
    """Non-special positions, highest score first, by a plain sort."""
    positions = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    return sorted(positions, key=lambda i: (-scores[i], i))


def prob(model: Model, ids: list[int] | torch.Tensor, target: int) -> float:
    """Softmax probability of `target` from one unbatched forward."""
    with torch.no_grad():
        logits = model.hf(input_ids=torch.as_tensor(ids)[None]).logits[0]
    return float(torch.softmax(logits.double(), -1)[target])


def prob_without(model: Model, encoded, removed, replacement_id=None) -> float:
    ids = encoded.input_ids.tolist()
    if replacement_id is None:
        ids = [t for i, t in enumerate(ids) if i not in set(removed)]
    else:
        for i in removed:
            ids[i] = replacement_id
    return prob(model, ids, encoded.target)


def trapezoid(y: list[float]) -> float:
    """Area under y sampled at x = 0, 1/N, ..., 1."""
    n = len(y) - 1
    return sum((y[i] + y[i + 1]) / 2 / n for i in range(n))
