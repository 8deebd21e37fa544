"""Area under the precision-recall curve of the scores against the human rationale, as ERASER
computes it (jayded/eraserbenchmark `rationale_benchmark/metrics.py`, `_auprc`) and ferret
after it (`ferret/evaluators/plausibility_measures.py`): the trapezoid under scikit-learn's
`precision_recall_curve`. This is not average precision (a step sum), which ERASER reports
beside it. Under `positive_only` (ferret) scores are clipped at zero first. Higher is better."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, precision_recall_curve

from bench.metric import Evidence, Metric, register_metric


@register_metric("auprc")
class AUPRC(Metric):
    name = "auprc"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True
    protocol_settings = ("positive_only",)

    def compute(self, evidence: Evidence) -> float:
        rationale = evidence.rationale_on_candidates()
        if not rationale.any():
            return float("nan")
        scores = evidence.candidate_scores()
        if evidence.protocol.positive_only:
            scores = np.clip(scores, 0.0, None)
        precision, recall, _ = precision_recall_curve(rationale, scores)
        return float(auc(recall, precision))
