import numpy as np
import pytest

import bench
from bench.errors import NotApplicableError
from bench.evaluate import rationale_mask, score_explanation

# 8 positions: [CLS] w1..w6 [SEP]; the rationale is w2 and w5
SCORES = np.array([9.0, 0.5, 2.0, -1.0, 0.0, 1.0, 3.0, 9.0])
RATIONALE = np.array([0, 0, 1, 0, 0, 1, 0, 0])
SPECIAL = np.array([1, 0, 0, 0, 0, 0, 0, 1], dtype=bool)


@pytest.fixture
def evidence(bert):
    encoded = bert.encode("free cash call now hello how", 1)
    assert encoded.n_positions == 8 and (encoded.special == SPECIAL).all()
    explanation = bench.Explanation(tokens=encoded.tokens, scores=SCORES, target=1, special_tokens=SPECIAL)
    return explanation, bert, encoded


def values(evidence, *metrics, rationale=RATIONALE):
    return score_explanation(*evidence, list(metrics), rationale=rationale)[0]


def test_mass_precision_and_recall_closed_form(evidence):
    # positive mass on w1..w6: x = [0.5, 2, 0, 0, 1, 3], sum 6.5, max 3; rationale picks 2 and 1
    result = values(evidence, "map", "mar")
    assert result["map"] == pytest.approx((2 + 1) / 6.5)
    assert result["mar"] == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_top_k_overlap_metrics(evidence):
    # k = 2: the top two of w1..w6 are w6 (3.0) and w2 (2.0); one hit
    result = values(evidence, "token_f1", "iou_f1")
    assert result["token_f1"] == pytest.approx(1 / 2)
    # spans: predicted {w2}, {w6}; gold {w2}, {w5}: {w2} matches (IoU 1), {w6} none (IoU 0)
    assert result["iou_f1"] == pytest.approx(1 / 2)  # precision 1/2, recall 1/2


def test_iou_f1_counts_phrases_at_half_overlap(bert):
    """ERASER's partial_match_score by hand on 12 positions: [CLS] w1..w10 [SEP]."""
    encoded = bert.encode("free cash call now hello how are you see later", 1)
    assert encoded.n_positions == 12
    # gold spans: w1-w4 and w8; predicted top-5: w2-w3 (IoU 2/4 with w1-w4: a hit), w7-w9
    # (IoU 1/3 with w8: a miss)
    rationale = np.array([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0])
    scores = np.zeros(12)
    scores[[2, 3, 7, 8, 9]] = [5, 4, 3, 2, 1]
    explanation = bench.Explanation(encoded.tokens, scores, 1, special_tokens=encoded.special)
    result = score_explanation(explanation, bert, encoded, ["iou_f1", "token_f1"], rationale=rationale)[0]
    assert result["iou_f1"] == pytest.approx(1 / 2)  # 1 of 2 predicted spans, 1 of 2 gold spans
    assert result["token_f1"] == pytest.approx(3 / 5)  # w2, w3, w8 of the top 5


def test_auprc_is_the_trapezoid_under_the_precision_recall_curve_by_hand(evidence):
    """ERASER's _auprc. Ranking w6, w2, w5, w1, w4, w3 (scores 3, 2, 1, 0.5, 0, -1), hits at
    ranks 2 and 3. (recall, precision) at each threshold, plus scikit-learn's (0, 1) end point:
    (0, 1), (0, 0) after w6, (1/2, 1/2) after w2, (1, 2/3) after w5 (full recall: the curve
    ends): the trapezoids give 1/2 * (0 + 1/2) / 2 + 1/2 * (1/2 + 2/3) / 2."""
    expected = 0.5 * (0 + 0.5) / 2 + 0.5 * (0.5 + 2 / 3) / 2
    assert values(evidence, "auprc")["auprc"] == pytest.approx(expected)
    assert expected != pytest.approx((1 / 2 + 2 / 3) / 2)  # not average precision


def test_empty_rationale_gives_nan_and_none_is_refused(evidence):
    result = values(evidence, "auprc", "map", "mar", "token_f1", "iou_f1", rationale=np.zeros(8))
    assert all(np.isnan(v) for v in result.values())
    with pytest.raises(NotApplicableError, match="rationale"):
        values(evidence, "map", rationale=None)


def test_character_span_rationale_maps_to_tokens(bert):
    encoded = bert.encode("free cash call now", 1)
    assert rationale_mask(encoded, [(5, 9)]).tolist() == [0, 0, 1, 0, 0, 0]
