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
    result = values(evidence, "token_f1", "iou")
    assert result["token_f1"] == pytest.approx(1 / 2)
    assert result["iou"] == pytest.approx(1 / 3)


def test_auprc_is_average_precision_by_hand(evidence):
    # ranking w6, w2, w5, w1, w4, w3: hits at ranks 2 and 3 -> (1/2 + 2/3) / 2
    assert values(evidence, "auprc")["auprc"] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_empty_rationale_gives_nan_and_none_is_refused(evidence):
    result = values(evidence, "auprc", "map", "mar", "token_f1", rationale=np.zeros(8))
    assert all(np.isnan(v) for v in result.values())
    with pytest.raises(NotApplicableError, match="rationale"):
        values(evidence, "map", rationale=None)


def test_character_span_rationale_maps_to_tokens(bert):
    encoded = bert.encode("free cash call now", 1)
    assert rationale_mask(encoded, [(5, 9)]).tolist() == [0, 0, 1, 0, 0, 0]
