"""Raw attention equals the last layer's softmax(QK^T / sqrt(d)), recomputed from the module weights,
read at [CLS], or for a causal LM at the row predicting each target token, summed."""

import numpy as np
import pytest
import torch
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

import bench
from tests.tiny import tiny_image

INPUTS = {
    "bert": ("free cash prize call now", 1),
    "gpt2": ("free cash prize call", "now"),
    "llama": ("free cash prize call", "now reply"),
    "vit": (tiny_image(), 2),
}


def heads(x: torch.Tensor, count: int) -> torch.Tensor:
    """(T, count * d) -> (count, T, d)."""
    return x.view(x.shape[0], count, -1).transpose(0, 1)


def last_layer_queries_keys(name: str, hf, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-head queries and keys (heads, T, d) of the last layer, from its input `hidden` (T, C)."""
    config = hf.config
    h = config.num_attention_heads
    if name == "bert":
        attention = hf.bert.encoder.layer[-1].attention.self
        return heads(attention.query(hidden), h), heads(attention.key(hidden), h)
    if name == "vit":
        layer = hf.vit.layers[-1]
        normed = layer.layernorm_before(hidden)
        return heads(layer.attention.q_proj(normed), h), heads(layer.attention.k_proj(normed), h)
    if name == "gpt2":
        block = hf.transformer.h[-1]
        q, k, _ = block.attn.c_attn(block.ln_1(hidden)).split(config.n_embd, dim=-1)
        return heads(q, h), heads(k, h)
    layer = hf.model.layers[-1]  # llama: rotary positions and grouped key/value heads
    normed = layer.input_layernorm(hidden)
    q = heads(layer.self_attn.q_proj(normed), h)[None]
    k = heads(layer.self_attn.k_proj(normed), config.num_key_value_heads)[None]
    cos, sin = hf.model.rotary_emb(normed[None], torch.arange(len(hidden))[None])
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    return q[0], k[0].repeat_interleave(h // config.num_key_value_heads, dim=0)


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_attention_is_the_head_mean_of_the_last_layer_softmax(name, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    encoded = model.encode(inputs, target)
    with torch.no_grad():  # the model's own (sdpa) attention: hidden states only
        hidden = model.hf(**model.batch([encoded]), output_hidden_states=True).hidden_states[-2][0]
        q, k = last_layer_queries_keys(name, model.hf, hidden)
    scores = (q.double() @ k.double().transpose(-1, -2)).numpy() / np.sqrt(q.shape[-1])
    length = scores.shape[-1]
    if model.kind == "causal-lm":
        scores = np.where(np.tril(np.ones((length, length), dtype=bool)), scores, -np.inf)
    probabilities = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    n = encoded.n_positions
    rows = [0] if model.kind != "causal-lm" else [n - 1 + t for t in range(len(encoded.target_ids))]
    expected = sum(probabilities.mean(0)[row, :n] for row in rows)

    explanation = bench.explain("attention", model, inputs, target=target)
    assert len(explanation.scores) == encoded.n_positions
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-6)
    assert np.ptp(expected) > 0.01  # not a uniform map that any bug would reproduce
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, 0)
