"""Area under the precision-recall curve of the scores against the human rationale (average
precision, as scikit-learn computes it); higher is better."""

from __future__ import annotations

from sklearn.metrics import average_precision_score

from bench.metric import Evidence, Metric, register_metric


@register_metric("auprc")
class AUPRC(Metric):
    name = "auprc"
    family = "plausibility"
    higher_is_better = True
    value_range = (0.0, 1.0)
    needs_rationale = True

    def compute(self, evidence: Evidence) -> float:
        rationale = evidence.rationale_on_candidates()
        if not rationale.any():
            return float("nan")
        scores = evidence.candidate_scores()
        return float(average_precision_score(rationale, scores))
