"""Kernel SHAP (captum): exact Shapley values of an additive game, approximate efficiency on
every model kind (captum pins the full and empty coalitions with a huge kernel weight), seeded."""

import numpy as np
import pytest
import torch

import bench
from bench.errors import InputError
from methods.kernel_shap import kernel_shap_values
from tests.methods.explicit_games import full_minus_empty
from tests.tiny import tiny_image

TEXT = "free cash prize call now hello"
TARGET = "reply stop"


def test_an_additive_game_gets_its_weights_as_shapley_values():
    weights = np.array([1.0, -2.0, 0.5, 3.0, 0.0, -1.0])
    values = kernel_shap_values(lambda present: 0.3 + present @ weights, len(weights), n_samples=60, seed=0)
    np.testing.assert_allclose(values, weights, atol=1e-4)


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
def test_scores_sum_to_full_minus_all_removed(name, inputs, target, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(inputs, target)
    explanation = bench.explain("kernel-shap", model, inputs, target=target, n_samples=80)
    expected = full_minus_empty(model, encoded)
    assert explanation.scores.sum() == pytest.approx(expected, abs=1e-3 * max(1.0, abs(expected)))
    assert np.all(explanation.scores[encoded.special] == 0)
    assert len(explanation.scores) == len(encoded.tokens)
    assert 0 < explanation.cost.forward_passes <= 80  # each distinct coalition once (test_coalitions)


def test_seeded(bert):
    a = bench.explain("kernel-shap", bert, TEXT, n_samples=40, seed=1)
    b = bench.explain("kernel-shap", bert, TEXT, n_samples=40, seed=1)
    c = bench.explain("kernel-shap", bert, TEXT, n_samples=40, seed=2)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert not np.allclose(a.scores, c.scores)


def test_an_unknown_baseline_is_refused_by_name(bert):
    with pytest.raises(InputError, match="baseline='nope' is not one of mask, pad, unk, delete"):
        bench.explain("kernel-shap", bert, TEXT, baseline="nope")


def test_a_single_feature_gets_its_exact_shapley_value(bert):
    """One feature (here: one word; often one sentence at sentence granularity) is the whole
    difference f(x) - f(removed); captum's sampler has no coalition size to draw for it."""
    encoded = bert.encode("free", 1)
    explanation = bench.explain("kernel-shap", bert, "free", 1)
    removed = encoded.input_ids.clone()
    removed[1] = bert.baseline_token_id
    with torch.no_grad():
        full, empty = bert.target_logprob(
            bert.batch([encoded] * 2, input_ids=[encoded.input_ids, removed]), [encoded] * 2
        )
    np.testing.assert_allclose(explanation.scores, [0.0, float(full - empty), 0.0], rtol=1e-6)
