"""Partition SHAP: efficiency (scores sum to f(x) - f(all removed)) on every model kind, also when
the evaluation budget runs out; exact Shapley values on a two-player game; seeded and aligned."""

import numpy as np
import pytest

import bench
from methods.shap_partition import restrict_linkage
from tests.methods.explicit_games import full_minus_empty, value
from tests.tiny import tiny_image

TEXT = "free cash prize call now hello how are you"
TARGET = "reply stop"


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
def test_scores_sum_to_full_minus_all_removed_even_when_the_budget_runs_out(name, inputs, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(inputs, target)
    explanation = bench.explain("shap", model, inputs, target=target, max_evals=30)
    assert explanation.cost.forward_passes <= 30 + 2  # the budget was binding: 9 tokens or 16 cells
    assert explanation.scores.sum() == pytest.approx(full_minus_empty(model, encoded), abs=1e-4)
    assert np.all(explanation.scores[encoded.special] == 0)
    assert len(explanation.scores) == len(encoded.tokens)


@pytest.mark.parametrize("name, target", [("bert", None), ("gpt2", TARGET)])
def test_two_tokens_get_their_exact_shapley_values(name, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode("free cash", target)
    f = {(a, b): value(model, encoded, [a, b]) for a in (0, 1) for b in (0, 1)}
    shapley = [
        ((f[1, 0] - f[0, 0]) + (f[1, 1] - f[0, 1])) / 2,
        ((f[0, 1] - f[0, 0]) + (f[1, 1] - f[1, 0])) / 2,
    ]
    scores = bench.explain("shap", model, "free cash", target=target).scores
    np.testing.assert_allclose(scores[~encoded.special], shapley, atol=1e-5)


def test_seeded_and_aligned_with_the_tokens(bert):
    a = bench.explain("shap", bert, TEXT, max_evals=20, seed=3)
    b = bench.explain("shap", bert, TEXT, max_evals=20, seed=3)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.tokens == bert.encode(TEXT).tokens
    assert a.params["max_evals"] == 20 and a.params["seed"] == 3


def test_a_single_token_gets_the_whole_difference(bert):
    encoded = bert.encode("free")
    scores = bench.explain("shap", bert, "free").scores
    assert scores[1] == pytest.approx(full_minus_empty(bert, encoded), abs=1e-5)


def test_restricting_a_tree_drops_leaves_and_keeps_the_merge_order():
    # leaves 0..3; 4 = (0, 1), 5 = (4, 2), 6 = (5, 3); drop leaves 0 and 3
    tree = np.array([[0, 1, 0.1, 2], [4, 2, 0.5, 3], [5, 3, 1.0, 4]], dtype=float)
    np.testing.assert_array_equal(restrict_linkage(tree, np.array([1, 2])), [[0, 1, 0.5, 2]])
