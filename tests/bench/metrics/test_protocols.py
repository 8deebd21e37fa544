"""The named protocols against the reference code's formulas, written out as explicit loops on a
hand-made 10-token example: ERASER (jayded/eraserbenchmark: predicted class, int(f * n) tokens
per bin, deletion) and ferret (g8a9/ferret: 10%..100% bins, positive scores only, repeated bins
skipped, deletion, the explained class)."""

import numpy as np
import pytest
import torch

import bench
from bench.errors import InputError
from bench.evaluate import score_explanation
from bench.protocol import get_protocol, metric_keys
from tests.bench.metrics._hand import TEXT, explained, prob

N_WORDS = 10
SCORES = np.array([0.0, 0.3, -0.2, 0.9, 0.1, -0.7, 0.5, 0.2, -0.1, 0.8, 0.4, 0.0])
"""[CLS], ten words, [SEP]: five positive, three negative, distinct among the words."""


@pytest.fixture
def example(bert):
    encoded = bert.encode(TEXT, 0)
    assert encoded.n_positions == N_WORDS + 2
    with torch.no_grad():
        predicted = int(bert.hf(input_ids=encoded.input_ids[None]).logits[0].argmax())
    gold = 1 - predicted  # explain the class the model does NOT predict, so the two differ
    encoded, explanation = explained(bert, SCORES, target=gold)
    return encoded, explanation, predicted


def deleted(encoded, positions) -> list[int]:
    gone = set(int(p) for p in positions)
    return [t for i, t in enumerate(encoded.input_ids.tolist()) if i not in gone]


def words(encoded) -> np.ndarray:
    return np.flatnonzero(~np.asarray(encoded.special, dtype=bool))


def eraser_by_hand(bert, encoded, scores, predicted):
    """ERASER: `nlargest(int(k * len(doc)))` per bin; comprehensiveness deletes them, sufficiency
    keeps only them; both read the predicted class and average over the five bins."""
    doc = words(encoded)
    by_score = doc[np.argsort(-scores[doc], kind="stable")]
    full = prob(bert, encoded.input_ids, predicted)
    comp, suff = [], []
    for fraction in (0.01, 0.05, 0.10, 0.20, 0.50):
        top = by_score[: int(fraction * len(doc))]  # n = 10: 0, 0, 1, 2, 5 tokens
        comp.append(full - prob(bert, deleted(encoded, top), predicted))
        suff.append(full - prob(bert, deleted(encoded, np.setdiff1d(doc, top)), predicted))
    return np.mean(comp), np.mean(suff)


def ferret_by_hand(bert, encoded, scores, target):
    """ferret's AOPC_Comprehensiveness/Sufficiency_Evaluation, loop for loop."""
    doc_scores = scores[words(encoded)]
    full = prob(bert, encoded.input_ids, target)
    comp, suff, last = [], [], None
    for v in np.arange(0.1, 1.1, 0.1):
        k = int(v * len(doc_scores))
        top = [i for i in np.argsort(doc_scores)[-k:][::-1] if doc_scores[i] > 0] if k > 0 else []
        if not top or (last is not None and set(top) == last):
            continue
        last = set(top)
        positions = words(encoded)[top]
        comp.append(full - prob(bert, deleted(encoded, positions), target))
        kept = np.setdiff1d(words(encoded), positions)
        suff.append(full - prob(bert, deleted(encoded, kept), target))
    return (np.mean(comp), np.mean(suff)) if comp else (0.0, 1.0)


def test_eraser_reads_the_predicted_class_int_bins_and_deletes(bert, example):
    encoded, explanation, predicted = example
    values, _ = score_explanation(
        explanation, bert, encoded, ["comprehensiveness", "sufficiency", "aopc"], protocols=["eraser"]
    )
    comp, suff = eraser_by_hand(bert, encoded, SCORES, predicted)
    assert values["comprehensiveness@eraser"] == pytest.approx(comp, abs=1e-6)
    assert values["sufficiency@eraser"] == pytest.approx(suff, abs=1e-6)
    assert values["aopc@eraser"] == pytest.approx(comp, abs=1e-6)  # ERASER's AOPC is the bin mean
    # the gold class, in place, ceil bins would be another number
    default, _ = score_explanation(explanation, bert, encoded, ["comprehensiveness"])
    assert default["comprehensiveness"] != pytest.approx(comp, abs=1e-4)


def test_ferret_bins_positive_scores_skip_repeats_and_delete(bert, example):
    encoded, explanation, _ = example
    values, _ = score_explanation(
        explanation, bert, encoded, ["comprehensiveness", "sufficiency", "aopc"], protocols=["ferret"]
    )
    comp, suff = ferret_by_hand(bert, encoded, SCORES, explanation.target)
    assert values["comprehensiveness@ferret"] == pytest.approx(comp, abs=1e-6)
    assert values["sufficiency@ferret"] == pytest.approx(suff, abs=1e-6)
    assert values["aopc@ferret"] == pytest.approx(comp, abs=1e-6)


def test_ferret_defaults_when_no_score_is_positive(bert, example):
    encoded, explanation, _ = example
    negative = -np.arange(1.0, N_WORDS + 3)
    _, none_positive = explained(bert, negative, target=explanation.target)
    values, _ = score_explanation(
        none_positive, bert, encoded, ["comprehensiveness", "sufficiency"], protocols=["ferret"]
    )
    assert (values["comprehensiveness@ferret"], values["sufficiency@ferret"]) == (0.0, 1.0)
    assert ferret_by_hand(bert, encoded, negative, explanation.target) == (0.0, 1.0)


def test_token_f1_k_and_positive_only_per_protocol(bert, example):
    encoded, explanation, _ = example
    rationale = np.zeros(N_WORDS + 2, dtype=int)
    rationale[[3, 5, 9]] = 1  # scores 0.9, -0.7, 0.8
    metrics = ["token_f1", "auprc"]
    stats = (2.0, 0.45)  # a run whose rationales average 2 tokens, 45% of the words
    values, _ = score_explanation(
        explanation, bert, encoded, metrics, rationale, protocols=["xai-bench", "eraser", "ferret"],
        rationale_stats=stats,
    )  # fmt: skip
    # xai-bench: k = |rationale| = 3: top 3 are positions 3, 9, 6: two hits; P = R = 2/3
    assert values["token_f1"] == pytest.approx(2 / 3)
    # eraser: k = int(0.45 * 10) = 4: 3, 9, 6, 10: two hits; P = 2/4, R = 2/3
    assert values["token_f1@eraser"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    # ferret: k = round(2.0) = 2 positive: 3, 9: two hits; P = 1, R = 2/3
    assert values["token_f1@ferret"] == pytest.approx(2 * (2 / 3) / (1 + 2 / 3))
    # ferret's auprc clips negative scores to zero: position 5 (-0.7) ties with the zeros
    clipped = np.clip(SCORES[1:-1], 0, None)
    from sklearn.metrics import auc, precision_recall_curve

    precision, recall, _ = precision_recall_curve(rationale[1:-1], clipped)
    assert values["auprc@ferret"] == pytest.approx(auc(recall, precision))
    assert "auprc@eraser" not in values  # the same settings as xai-bench: not recorded twice


def test_evaluate_names_protocol_keys_and_refuses_unknown_ones(bert, example):
    encoded, explanation, _ = example
    values = bench.evaluate(explanation, bert, TEXT, ["comprehensiveness", "deletion"], protocol="ferret")
    assert set(values) == {"comprehensiveness@ferret", "deletion"}
    with pytest.raises(InputError, match="unknown protocol 'erasr'.*eraser"):
        bench.evaluate(explanation, bert, TEXT, ["deletion"], protocol="erasr")


def test_metric_keys_record_a_metric_again_only_where_settings_differ():
    keys = metric_keys(["deletion", "comprehensiveness", "auprc", "token_f1"], ["xai-bench", "eraser"])
    assert keys == [
        "deletion",
        "comprehensiveness",
        "comprehensiveness@eraser",
        "auprc",
        "token_f1",
        "token_f1@eraser",
    ]
    assert get_protocol("ferret").bins[2] == np.arange(0.1, 1.1, 0.1)[2]  # ferret's float, not 0.3
