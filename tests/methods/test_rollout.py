"""Attention rollout equals an explicit product over the model's returned attention maps, read at
[CLS] or at each target token's predicting row (summed), without the read row's self entry."""

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
    n = encoded.n_positions
    rows = [0] if model.kind != "causal-lm" else [n - 1 + t for t in range(len(encoded.target_ids))]
    expected = np.zeros(n)
    for row in rows:
        read = flow[row, :n].copy()
        if row < n:
            read[row] = 0.0  # the self entry is no relevance
        expected += read

    scores = bench.explain("rollout", model, inputs, target=target).scores
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-9)
    # a product of row-stochastic maps is row-stochastic: each read row's mass, less its self entry
    # and its target columns, is what the explained positions get
    mass = sum(flow[row, :n].sum() - (flow[row, row] if row < n else 0.0) for row in rows)
    assert scores.sum() == pytest.approx(mass, abs=1e-9) and 0 < mass < len(rows)
    assert not np.allclose(scores, bench.explain("attention", model, inputs, target=target).scores)
