"""Shared pieces of the plausibility metrics: the top-|rationale| overlap and positive score mass.
Special tokens are never part of a rationale and are left out of every plausibility metric, and
so are positions outside the task's candidates (`Evidence.candidate_positions`)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence


def top_k_overlap(evidence: Evidence) -> tuple[int, int]:
    """(|top-k ∩ rationale|, k) with k = |rationale|, top-k by score among the candidates."""
    rationale = evidence.rationale_on_candidates()
    k = int(rationale.sum())
    scores = evidence.candidate_scores()
    top = np.argsort(-scores, kind="stable")[:k]
    return int(rationale[top].sum()), k


def positive_mass(evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): scores clipped at zero and the 0/1 rationale, on the candidate positions."""
    rationale = evidence.rationale_on_candidates().astype(np.float64)
    return np.clip(evidence.candidate_scores(), 0.0, None), rationale
