"""AtMan-grad's expansions: against finite differences, and the softmax one against a loop."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import bench


@pytest.mark.parametrize("expansion", ["multiplier", "softmax"])
@pytest.mark.parametrize("name", ["bert", "gpt2", "vit"])
def test_atman_grad_equals_directional_derivative(name, expansion, request):
    """For a small suppression factor exact AtMan is linear in f, so AtMan(f)/f -> AtMan-grad(f)/f."""
    from tests.tiny import tiny_image

    model = request.getfixturevalue(name)
    model.hf.double()  # finite differences need float64
    inputs = tiny_image() if name == "vit" else "free cash prize call now"
    target = {"bert": 1, "gpt2": "claim", "vit": 2}[name]
    f = 1e-6
    grad = bench.explain(
        "atman-grad", model, inputs, target=target, suppression_factor=f, expansion=expansion
    )
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


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_softmax_expansion_equals_a_loop_over_suppressed_attention_rows(name, request):
    """Per key j: rebuild every layer's attention rows with j suppressed, from the eager
    attention weights alone (shifted score d = log w - min log w over allowed keys), and dot the
    change with the CE gradient of those weights."""
    model = request.getfixturevalue(name)
    model.hf.double()
    target = 1 if name == "bert" else "claim it"
    f = 0.9
    encoded = model.encode("free cash prize call now", target)
    got = bench.explain("atman-grad", model, "free cash prize call now", target, expansion="softmax")
    with torch.enable_grad(), model.attention_implementation("eager"):
        logprob, output = model.forward_for_target(model.batch([encoded]), [encoded], output_attentions=True)
        gradients = torch.autograd.grad(-logprob.sum(), output.attentions)
    expected = np.zeros(encoded.n_positions)
    for weights, gradient in zip(output.attentions, gradients, strict=True):
        weights, gradient = weights.detach(), gradient.detach()
        allowed = weights > 0
        log_w = weights.log()
        row_min = log_w.masked_fill(~allowed, np.inf).amin(-1, keepdim=True)
        for j in range(encoded.n_positions):
            suppressed = log_w.clone()
            suppressed[..., j] = row_min[..., 0] + (1 - f) * (log_w[..., j] - row_min[..., 0])
            new_weights = suppressed.masked_fill(~allowed, -np.inf).softmax(-1)
            expected[j] += float((gradient * (new_weights - weights)).sum())
    assert np.abs(expected).max() > 1e-4
    # transformers' eager attention takes its softmax in float32 (Llama), ours in float64
    np.testing.assert_allclose(got.scores, expected, rtol=1e-4, atol=1e-8)


def test_unknown_expansion_is_refused(bert):
    with pytest.raises(ValueError, match="unknown expansion 'taylor'"):
        bench.explain("atman-grad", bert, "free cash", target=0, expansion="taylor")
