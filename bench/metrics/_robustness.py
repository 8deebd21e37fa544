"""What the robustness metrics share: perturbed copies of the explained input, and the
explained method's explanations of them (the family re-explains the input, so a run opts into
it with `--families +robustness`).

Text: each copy replaces ceil(10%) of the non-special units, drawn (seeded) from the
lower-ranked half of the explanation, by the tokenizer's mask token (else unk, else pad) in the
text (a word or sentence unit: its whole span, by one mask token), which is then encoded again
at the same granularity; a copy that changes the number of units or the
classifier's prediction is drawn again. Images: each copy adds uniform noise in [-0.2, 0.2] to
the model's input (Quantus's `AvgSensitivity`/`MaxSensitivity` defaults, `lower_bound=0.2`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from bench.errors import NotApplicableError
from bench.metric import Evidence
from bench.models import Encoded

SEED = 0
TEXT_COPIES = 3
NOISE_COPIES = 10
"""Quantus draws 200 noisy copies per input; a tenth of the re-explanations keeps the family
affordable for perturbation methods (documented in the README)."""
REPLACED_FRACTION = 0.1
NOISE_BOUND = 0.2
MAX_DRAWS = 20


@dataclass
class Copy:
    encoded: Encoded
    unchanged: np.ndarray
    """Units the copy did not perturb (where explanations are compared)."""
    same_prediction: bool


def copies(evidence: Evidence) -> list[Copy]:
    return evidence.cached("robustness_copies", lambda: _copies(evidence))


def reexplained(evidence: Evidence) -> list[np.ndarray]:
    """The method's scores of every copy (cached: the robustness metrics share them)."""
    if evidence.method is None:
        raise NotApplicableError("robustness re-explains the input; pass the method that made it")
    return evidence.cached(
        "robustness_scores",
        lambda: [
            np.asarray(s, dtype=np.float64)
            for s in evidence.method.unit_scores(evidence.model, [c.encoded for c in copies(evidence)])
        ],
    )


def _copies(evidence: Evidence) -> list[Copy]:
    model, encoded = evidence.model, evidence.encoded
    rng = np.random.default_rng(SEED)
    predicted = None if model.kind == "causal-lm" else model.predicted_class(encoded)
    if model.modality == "image":
        made = []
        for _ in range(NOISE_COPIES):
            noise = rng.uniform(-NOISE_BOUND, NOISE_BOUND, size=tuple(encoded.pixel_values.shape))
            pixels = encoded.pixel_values + torch.from_numpy(noise).to(encoded.pixel_values.dtype)
            copy = replace(encoded, pixel_values=pixels)
            made.append(Copy(copy, evidence.removable, model.predicted_class(copy) == predicted))
        return made
    return _text_copies(evidence, rng, predicted)


def _text_copies(evidence: Evidence, rng: np.random.Generator, predicted: int | None) -> list[Copy]:
    model, encoded = evidence.model, evidence.encoded
    if encoded.text is None or encoded.offsets is None:
        raise NotApplicableError("text robustness edits the input text; this input has none")
    tokenizer = model.tokenizer
    filler = tokenizer.mask_token or tokenizer.unk_token or tokenizer.pad_token
    lowest = evidence.order[::-1][: max(1, len(evidence.order) // 2)]
    size = min(len(lowest), max(1, math.ceil(REPLACED_FRACTION * len(evidence.order))))
    made: list[Copy] = []
    for _ in range(MAX_DRAWS):
        if len(made) == TEXT_COPIES:
            break
        chosen = np.sort(rng.choice(lowest, size, replace=False))
        text = encoded.text
        for unit in chosen[::-1]:  # from the right, so earlier offsets stay valid
            first, last = encoded.units.starts[unit], encoded.units.starts[unit + 1] - 1
            start, end = encoded.offsets[first][0], encoded.offsets[last][1]
            text = f"{text[:start]}{filler}{text[end:]}"
        copy = model.encode(text, encoded.target, granularity=encoded.units.granularity)
        if copy.units.n_units != encoded.units.n_units:
            continue
        if predicted is not None and model.predicted_class(copy) != predicted:
            continue
        made.append(Copy(copy, np.setdiff1d(evidence.removable, chosen), True))
    return made
