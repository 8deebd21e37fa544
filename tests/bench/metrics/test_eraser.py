import math

import numpy as np
import pytest

from bench.evaluate import score_explanation
from tests.bench.metrics._hand import explained, prob_without, ranked

BINS = (0.01, 0.05, 0.10, 0.20, 0.50)


@pytest.mark.parametrize("metric", ["comprehensiveness", "sufficiency"])
def test_eraser_metrics_equal_loop_over_bins(bert, metric):
    encoded, explanation = explained(bert)
    order = ranked(encoded, explanation.scores)
    mask_id = bert.tokenizer.mask_token_id
    full = prob_without(bert, encoded, [], mask_id)
    drops = []
    for fraction in BINS:
        k = max(1, math.ceil(fraction * len(order)))
        removed = order[:k] if metric == "comprehensiveness" else order[k:]
        drops.append(full - prob_without(bert, encoded, removed, mask_id))

    values, _ = score_explanation(explanation, bert, encoded, [metric])

    assert values[metric] == pytest.approx(np.mean(drops), abs=1e-6)
