"""Shared pieces of the plausibility metrics: F1 and the positive score mass.
Special tokens are never part of a rationale and are left out of every plausibility metric, and
so are positions outside the task's candidates (`Evidence.candidate_positions`)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision == 0 or recall == 0 else 2 * precision * recall / (precision + recall)


def positive_mass(evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): scores clipped at zero and the 0/1 rationale, on the candidate positions."""
    rationale = evidence.rationale_on_candidates().astype(np.float64)
    return np.clip(evidence.candidate_scores(), 0.0, None), rationale
