"""GAE equals an explicit Chefer et al. loop over per-layer gradients of the attention probabilities.

The independent computation runs AtMan's attention function with no suppression
(bench/attention.py), whose returned probabilities are by construction the ones multiplied
with V, so matching it also shows that eager attention's returned maps carry the right gradients.
"""

import numpy as np
import pytest
import torch

import bench
from bench.attention import SUPPRESSED_ATTENTION
from tests.methods.test_attention import INPUTS


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_gae_is_the_chefer_relevance_update(name, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    encoded = model.encode(inputs, target)
    with torch.enable_grad(), model.attention_implementation(SUPPRESSED_ATTENTION):
        out = model.hf(**model.batch([encoded]), output_attentions=True)
        logprob = model.target_logprob_from_logits(out.logits, [encoded])[0]
        layers = []
        for attention in out.attentions:
            (gradient,) = torch.autograd.grad(logprob, attention, retain_graph=True)
            layers.append((attention[0].detach().double().numpy(), gradient[0].double().numpy()))
    length = layers[0][0].shape[-1]
    relevance = np.eye(length)
    for attention, gradient in layers:
        weighted = np.maximum(attention * gradient, 0).mean(0)
        relevance = relevance + weighted @ relevance
    row = encoded.n_positions - 1 if model.kind == "causal-lm" else 0
    expected = relevance[row, : encoded.n_positions]

    explanation = bench.explain("gae", model, inputs, target=target)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-7)
    assert np.abs(expected - np.eye(length)[row, : encoded.n_positions]).max() > 1e-3  # gradients mattered
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, 1)


def test_gae_leaves_model_without_gradients(bert):
    bench.explain("gae", bert, "free cash", target=0)
    assert all(p.grad is None for p in bert.hf.parameters())
