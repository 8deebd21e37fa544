"""Shapley value sampling (captum): exact efficiency on every model kind for any number of
permutations, and convergence to the exact Shapley values of a 5-token input, enumerated here
over all 32 coalitions of a game computed by hand (tests/methods/explicit_games.py)."""

import itertools
import math

import numpy as np
import pytest

import bench
from methods.shapley_sampling import shapley_sampling_values
from tests.methods.explicit_games import full_minus_empty, value
from tests.tiny import tiny_image

TEXT = "free cash prize call now hello"
FIVE_TOKENS = "free cash prize call now"
TARGET = "reply stop"


def exact_shapley(game, n: int) -> np.ndarray:
    """phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))."""
    values = {s: game(np.array(s, dtype=bool)) for s in itertools.product((0, 1), repeat=n)}
    phi = np.zeros(n)
    for s, v in values.items():
        size = sum(s)
        for i in np.flatnonzero(np.array(s) == 0):
            with_i = s[:i] + (1,) + s[i + 1 :]
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            phi[i] += weight * (values[with_i] - v)
    return phi


def test_an_interaction_game_gets_its_exact_shapley_values():
    """v = present @ w + 2 * x0 * x1: the interaction's credit is split evenly between 0 and 1."""
    weights = np.array([1.0, -2.0, 0.5, 3.0])

    def game(present: np.ndarray) -> np.ndarray:
        present = np.atleast_2d(present).astype(float)
        return 0.3 + present @ weights + 2.0 * present[:, 0] * present[:, 1]

    expected = weights + np.array([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(exact_shapley(lambda s: game(s)[0], 4), expected, atol=1e-12)
    # every permutation credits the interaction whole to whichever of 0 and 1 comes second
    estimate = shapley_sampling_values(game, 4, n_samples=400, seed=0)
    np.testing.assert_allclose(estimate, expected, atol=0.15)
    assert estimate.sum() == pytest.approx(expected.sum(), abs=1e-5)


@pytest.mark.parametrize(
    "name, inputs, target",
    [
        ("bert", TEXT, None),
        ("gpt2", TEXT, TARGET),
        ("llama", TEXT, TARGET),
        ("vit", tiny_image(), None),
        ("cnn", tiny_image(), None),
    ],
)
def test_scores_sum_exactly_to_full_minus_all_removed(name, inputs, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(inputs, target)
    explanation = bench.explain("shapley-sampling", model, inputs, target=target, n_samples=3)
    expected = full_minus_empty(model, encoded)
    # three permutations, each telescoping to the same difference: exact but for float32 sums
    assert explanation.scores.sum() == pytest.approx(expected, abs=1e-5 * max(1.0, abs(expected)))
    assert np.all(explanation.scores[encoded.special] == 0)
    assert len(explanation.scores) == len(encoded.tokens)
    n_features = int((~encoded.special).sum())
    # all removed, all present, and each permutation's n_features - 1 coalitions in between
    assert n_features < explanation.cost.forward_passes <= 2 + 3 * (n_features - 1)


@pytest.mark.parametrize("name, target", [("bert", None), ("gpt2", TARGET)])
def test_five_tokens_converge_to_their_exact_shapley_values(name, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(FIVE_TOKENS, target)
    assert int((~encoded.special).sum()) == 5
    exact = exact_shapley(lambda present: value(model, encoded, present), 5)
    # 2000 permutations cost no more passes (32 coalitions in all) and bring the sampling error
    # to 1-3% of the largest value on these models (seeds 0-2); 5% leaves room, not much more
    explanation = bench.explain("shapley-sampling", model, FIVE_TOKENS, target=target, n_samples=2000)
    estimate = explanation.scores[~encoded.special]

    tolerance = 0.05 * np.abs(exact).max()
    np.testing.assert_allclose(estimate, exact, atol=tolerance)
    # the tolerance can fail: leave-one-out drops (occlusion) are not Shapley values here
    leave_one_out = bench.explain("occlusion", model, FIVE_TOKENS, target=target).scores[~encoded.special]
    assert np.abs(leave_one_out - exact).max() > 2 * tolerance
    # each of the 32 coalitions ran through the model once, however many permutations drew it
    assert explanation.cost.forward_passes <= 32


def test_seeded_and_aligned_with_the_tokens(bert):
    a = bench.explain("shapley-sampling", bert, TEXT, n_samples=5, seed=1)
    b = bench.explain("shapley-sampling", bert, TEXT, n_samples=5, seed=1)
    c = bench.explain("shapley-sampling", bert, TEXT, n_samples=5, seed=2)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.scores, c.scores)
    assert a.tokens == bert.encode(TEXT).tokens
    assert a.params["n_samples"] == 5 and a.params["baseline"] == "mask"
