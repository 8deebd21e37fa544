"""Attention rollout equals an explicit product over the model's returned attention maps."""

import numpy as np
import pytest
import torch

import bench
from tests.methods.test_attention import INPUTS


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_rollout_is_the_product_of_residual_mixed_attention(name, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    encoded = model.encode(inputs, target)
    with torch.no_grad(), model.attention_implementation("eager"):
        attentions = model.hf(**model.batch([encoded]), output_attentions=True).attentions
    mixed = []
    for attention in attentions:
        a = attention[0].double().numpy().mean(0)
        a = 0.5 * a + 0.5 * np.eye(len(a))
        mixed.append(a / a.sum(1, keepdims=True))
    flow = np.linalg.multi_dot(mixed[::-1])  # A_L ... A_1: the first layer acts first
    row = encoded.n_positions - 1 if model.kind == "causal-lm" else 0
    expected = flow[row, : encoded.n_positions]

    scores = bench.explain("rollout", model, inputs, target=target).scores
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)
    # a product of row-stochastic maps is row-stochastic, and the reading row only sees explained keys
    assert scores.sum() == pytest.approx(1.0, abs=1e-6)
    assert not np.allclose(scores, bench.explain("attention", model, inputs, target=target).scores)
