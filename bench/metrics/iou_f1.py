"""ERASER's span-level IOU F1 (DeYoung et al. 2020; jayded/eraserbenchmark
`rationale_benchmark/metrics.py`, `partial_match_score`): the top-k candidates by score
(k = |rationale|, as `token_f1`) form predicted spans, maximal runs of adjacent positions, and
the rationale forms the gold spans; a predicted span is a true positive when its
intersection-over-union with some gold span is at least 0.5. The value is the F1 of
precision = TP / predicted spans and recall = TP / gold spans, per example (ERASER averages
precision and recall over instances before the F1). Unlike token F1, it rewards finding a
rationale's phrases as phrases."""

from __future__ import annotations

import numpy as np

from bench.metric import Evidence, Metric, register_metric
from bench.metrics._rationale import f1

THRESHOLD = 0.5


def spans(positions: np.ndarray) -> list[set[int]]:
    """Maximal runs of consecutive positions, each as a set."""
    runs: list[set[int]] = []
    for position in sorted(int(p) for p in positions):
        if runs and position - 1 in runs[-1]:
            runs[-1].add(position)
        else:
            runs.append({position})
    return runs


@register_metric("iou_f1")
class IoUF1(Metric):
    name = "iou_f1"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        rationale = evidence.rationale_on_candidates()
        k = int(rationale.sum())
        if k == 0:
            return float("nan")
        candidates = evidence.candidate_positions
        top = candidates[np.argsort(-evidence.candidate_scores(), kind="stable")[:k]]
        predicted, gold = spans(top), spans(candidates[rationale])
        hits = sum(max(len(p & g) / len(p | g) for g in gold) >= THRESHOLD for p in predicted)
        return f1(hits / len(predicted), hits / len(gold))
