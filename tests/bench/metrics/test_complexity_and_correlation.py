"""Sparseness and complexity against closed forms and Quantus itself; faithfulness correlation
against a linear model (where it must be 1) and an explicit loop on the tiny BERT."""

import math

import numpy as np
import pytest
from scipy.stats import pearsonr

from bench.evaluate import score_explanation
from bench.metrics.faithfulness_correlation import FaithfulnessCorrelation
from tests.bench.metrics._hand import explained, prob_without

quantus = pytest.importorskip("quantus")


def scored(bert, words: np.ndarray, metrics):
    """Values of `metrics` for scores `words` on the ten words of the hand-made text."""
    encoded, explanation = explained(bert, np.concatenate([[7.0], words, [7.0]]))  # specials: ignored
    return score_explanation(explanation, bert, encoded, metrics)[0]


def test_gini_and_entropy_closed_forms(bert):
    one_hot = np.zeros(10)
    one_hot[3] = -2.0
    values = scored(bert, one_hot, ["sparseness", "complexity"])
    assert values["sparseness"] == pytest.approx(9 / 10, abs=1e-5)  # Gini of a one-hot: (n - 1) / n
    assert values["complexity"] == pytest.approx(0.0, abs=1e-9)
    values = scored(bert, np.full(10, 0.3), ["sparseness", "complexity"])
    assert values["sparseness"] == pytest.approx(0.0, abs=1e-9)
    assert values["complexity"] == pytest.approx(math.log(10))


def test_sparseness_and_complexity_match_quantus(bert):
    words = np.random.default_rng(1).normal(size=10)
    values = scored(bert, words, ["sparseness", "complexity"])
    x, y, a = np.zeros((1, 1, 10)), np.array([0]), words[None, None, :].copy()
    expected_gini = quantus.Sparseness(disable_warnings=True)(
        model=None, x_batch=x, y_batch=y, a_batch=a.copy()
    )
    expected_entropy = quantus.Complexity(disable_warnings=True)(
        model=None, x_batch=x, y_batch=y, a_batch=a.copy()
    )
    assert values["sparseness"] == pytest.approx(expected_gini[0], rel=1e-9)
    assert values["complexity"] == pytest.approx(expected_entropy[0], rel=1e-9)


class LinearPerturber:
    """f(x) = w . x; removing a position zeroes it. Specials (first and last) are never removed."""

    def __init__(self, w, x, encoded):
        self.w, self.x, self.encoded = w, x, encoded
        self.removable = np.arange(1, len(w) - 1)
        self.replacement = "zero"

    def scores(self, removed):
        return (np.where(np.atleast_2d(removed), 0.0, self.x) * self.w).sum(axis=1)


def test_faithfulness_correlation_is_one_for_input_x_gradient_of_a_linear_model(bert):
    from bench.metric import Evidence

    rng = np.random.default_rng(2)
    w, x = rng.normal(size=12), rng.normal(size=12)
    encoded, explanation = explained(bert, w * x)  # input x gradient of w . x
    evidence = Evidence(explanation, bert, encoded, replacement="mask")
    evidence.input_cache["perturber_mask"] = LinearPerturber(w, x, encoded)  # the model under test is linear
    assert FaithfulnessCorrelation().compute(evidence) == pytest.approx(1.0)
    evidence = Evidence(explained(bert, rng.normal(size=12))[1], bert, encoded, replacement="mask")
    evidence.input_cache["perturber_mask"] = LinearPerturber(w, x, encoded)
    assert FaithfulnessCorrelation().compute(evidence) < 0.9  # unrelated scores do not correlate


def test_faithfulness_correlation_equals_an_explicit_loop(bert):
    encoded, explanation = explained(bert)
    value = score_explanation(explanation, bert, encoded, ["faithfulness_correlation"])[0]
    words = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    rng = np.random.default_rng(0)
    full = prob_without(bert, encoded, [], bert.tokenizer.mask_token_id)
    sums, drops = [], []
    for _ in range(100):
        subset = [words[i] for i in rng.choice(len(words), math.ceil(0.2 * len(words)), replace=False)]
        sums.append(explanation.scores[subset].sum())
        drops.append(full - prob_without(bert, encoded, subset, bert.tokenizer.mask_token_id))
    assert value["faithfulness_correlation"] == pytest.approx(pearsonr(sums, drops).statistic, abs=1e-6)
