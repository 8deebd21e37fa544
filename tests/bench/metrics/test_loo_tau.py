import itertools

import pytest

from bench.evaluate import score_explanation
from tests.bench.metrics._hand import explained, prob_without


def kendall_tau_without_ties(a, b) -> float:
    pairs = list(itertools.combinations(range(len(a)), 2))
    signs = [(a[i] - a[j]) * (b[i] - b[j]) for i, j in pairs]
    return (sum(s > 0 for s in signs) - sum(s < 0 for s in signs)) / len(pairs)


def test_loo_tau_is_kendall_tau_against_single_token_occlusion(bert):
    encoded, explanation = explained(bert)
    mask_id = bert.tokenizer.mask_token_id
    positions = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    full = prob_without(bert, encoded, [], mask_id)
    drops = [full - prob_without(bert, encoded, [i], mask_id) for i in positions]

    values, _ = score_explanation(explanation, bert, encoded, ["loo_tau"])

    expected = kendall_tau_without_ties([explanation.scores[i] for i in positions], drops)
    assert values["loo_tau"] == pytest.approx(expected)


def test_loo_tau_of_the_occlusion_itself_is_one(bert):
    encoded, explanation = explained(bert)
    mask_id = bert.tokenizer.mask_token_id
    full = prob_without(bert, encoded, [], mask_id)
    for i in range(encoded.n_positions):
        explanation.scores[i] = (
            full - prob_without(bert, encoded, [i], mask_id) if not encoded.special[i] else 0
        )
    values, _ = score_explanation(explanation, bert, encoded, ["loo_tau"])
    assert values["loo_tau"] == pytest.approx(1.0)
