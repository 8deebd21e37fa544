"""Token F1 of the top-k scored candidates against the human rationale (ERASER's
`score_hard_rationale_predictions`, ferret's `Tokenf1_PlausibilityEvaluation`): precision
TP / k, recall TP / |rationale|, their harmonic mean per example. k is the protocol's
(`token_f1_k`): each example's |rationale| (xai-bench; then precision = recall = F1, an
oracle k), the run's mean rationale length (ferret's `top_k_rationale`), or its mean rationale
fraction times n (ERASER's `k_fraction`). Under `positive_only` only positive scores are
selected, and an explanation with none scores 0 (ferret's default)."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import f1


def top_k(evidence: Evidence, rationale: np.ndarray) -> int:
    """The protocol's k for this example (see the module docstring)."""
    k = evidence.protocol.token_f1_k
    if isinstance(k, int):
        return k
    if k == "rationale":
        return int(rationale.sum())
    length, fraction = evidence.rationale_stats or (rationale.sum(), rationale.mean())
    return max(1, round(length)) if k == "mean" else int(fraction * len(rationale))


@register_metric("token_f1")
class TokenF1(Metric):
    name = "token_f1"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True
    protocol_settings = ("token_f1_k", "positive_only")

    def compute(self, evidence: Evidence) -> float:
        rationale = evidence.rationale_on_candidates()
        if not rationale.any():
            return float("nan")
        scores = evidence.candidate_scores()
        ranked = np.argsort(-scores, kind="stable")
        if evidence.protocol.positive_only:
            ranked = ranked[scores[ranked] > 0]
        top = ranked[: top_k(evidence, rationale)]
        if len(top) == 0:
            return 0.0
        hits = int(rationale[top].sum())
        return f1(hits / len(top), hits / int(rationale.sum()))
