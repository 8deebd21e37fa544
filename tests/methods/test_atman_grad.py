"""AtMan-grad is the first-order expansion of AtMan: check it against finite differences."""

import numpy as np
import pytest
from scipy.stats import spearmanr

import bench


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit"])
def test_atman_grad_equals_directional_derivative(name, request):
    """For a small suppression factor exact AtMan is linear in f, so AtMan(f)/f -> AtMan-grad(f)/f."""
    from tests.tiny import tiny_image

    model = request.getfixturevalue(name)
    model.hf.double()  # finite differences need float64
    inputs = tiny_image() if name == "vit" else "free cash prize call now"
    target = {"bert": 1, "gpt2": "claim", "vit": 2}[name]
    f = 1e-6
    grad = bench.explain("atman-grad", model, inputs, target=target, suppression_factor=f)
    exact = bench.explain("atman", model, inputs, target=target, suppression_factor=f)
    assert np.abs(exact.scores).max() > 1e-8
    np.testing.assert_allclose(grad.scores, exact.scores, rtol=1e-3, atol=1e-12)


def test_atman_grad_costs_one_forward_and_one_backward(bert):
    explanation = bench.explain("atman-grad", bert, "free cash prize call now", target=1)
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, 1)
    assert (
        spearmanr(explanation.scores, bench.explain("atman", bert, "free cash prize call now", 1).scores)[0]
        > 0
    )


def test_atman_grad_leaves_model_without_gradients(bert):
    bench.explain("atman-grad", bert, "free cash", target=0)
    assert all(p.grad is None for p in bert.hf.parameters())
