"""LIME (LimeTextExplainer over the model's tokens): a linear probability function gets its
weights back (signs, ranking, size); one feature per position even for repeated tokens; the
model's scores align with its tokens, special tokens score 0; seeded."""

import numpy as np
import pytest
from scipy.stats import spearmanr

import bench
from methods.lime_text import lime_weights
from tests.methods.explicit_games import features, value
from tests.tiny import tiny_image

TEXT = "free cash prize call now hello"
TARGET = "reply stop"


def test_a_linear_probability_gets_its_weights_back():
    weights = np.array([0.1, -0.2, 0.05, 0.3, 0.0, -0.1, 0.15])
    tokens = ["free", "cash", "free", "##ing", "[MASK]", "a b", "free"]  # repeats, pieces, spaces
    found = lime_weights(tokens, lambda present: 0.4 + present @ weights, num_samples=300, seed=0)
    assert np.array_equal(np.sign(found[weights != 0]), np.sign(weights[weights != 0]))
    assert spearmanr(found, weights).statistic == pytest.approx(1.0)
    np.testing.assert_allclose(found, weights, atol=0.02)  # ridge shrinks a little


def test_a_single_token_input_scores_against_removing_it(bert):
    """With one feature, LIME's samples are the input and the input without it: its weight is
    (nearly, ridge-shrunk) p(x) - p(x without it), with p the target class probability."""
    encoded = bert.encode("free")
    difference = np.exp(value(bert, encoded, [True])) - np.exp(value(bert, encoded, [False]))
    scores = bench.explain("lime", bert, "free", num_samples=100).scores
    assert np.sign(scores[1]) == np.sign(difference)
    assert abs(scores[1]) < abs(difference)  # ridge shrinkage toward 0, never past it


@pytest.mark.parametrize(
    "name, inputs, target",
    [
        ("bert", TEXT, None),
        ("gpt2", TEXT, TARGET),
        ("vit", tiny_image(), None),
        ("cnn", tiny_image(), None),
    ],
)
def test_runs_aligned_and_seeded_on_every_model_kind(name, inputs, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(inputs, target)
    a = bench.explain("lime", model, inputs, target=target, num_samples=60, seed=4)
    b = bench.explain("lime", model, inputs, target=target, num_samples=60, seed=4)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.tokens == encoded.tokens
    assert np.all(a.scores[encoded.special] == 0)
    assert np.count_nonzero(a.scores) == len(features(encoded))
    assert 0 < a.cost.forward_passes <= 60  # each distinct coalition once (test_coalitions)
