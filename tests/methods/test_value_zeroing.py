"""Value zeroing against an explicit loop: one forward pass per (layer, token) through the model's
own eager attention, a hook zeroing that token's output of the value projection, cosine distances
of that layer's outputs, rows divided by their sums and the layers multiplied out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

import bench
from bench.errors import NotApplicableError
from tests.methods.test_attention import INPUTS
from tests.tiny import make_tokenizer, tiny_cnn, tiny_image


def blocks_and_values(name: str, hf) -> list[tuple[torch.nn.Module, torch.nn.Module, slice]]:
    """Per layer: the block, the module whose output holds the value vectors, and their columns."""
    if name == "bert":
        return [(block, block.attention.self.value, slice(None)) for block in hf.bert.encoder.layer]
    if name == "vit":
        return [(block, block.attention.v_proj, slice(None)) for block in hf.vit.layers]
    if name == "gpt2":  # c_attn's output is [queries | keys | values]
        width = hf.config.n_embd
        return [(block, block.attn.c_attn, slice(2 * width, 3 * width)) for block in hf.transformer.h]
    return [(block, block.self_attn.v_proj, slice(None)) for block in hf.model.layers]


def layer_outputs(model: bench.Model, name: str, batch: dict, zero: tuple[int, int] | None = None):
    """Each block's output (T, hidden) in float64; `zero=(l, j)` zeroes token j's value vector
    in layer l, for every head and every query."""
    outputs, hooks = [], []
    for layer, (block, values, columns) in enumerate(blocks_and_values(name, model.hf)):
        hooks.append(block.register_forward_hook(lambda m, a, out: outputs.append(out[0].double().numpy())))
        if zero is not None and zero[0] == layer:

            def zero_value(module, args, out, j=zero[1], columns=columns):
                out = out.clone()
                out[0, j, columns] = 0.0
                return out

            hooks.append(values.register_forward_hook(zero_value))
    try:
        with torch.no_grad(), model.attention_implementation("eager"):
            model.hf(**batch)
    finally:
        for hook in hooks:
            hook.remove()
    return outputs


def explicit_value_zeroing(model: bench.Model, name: str, encoded, aggregate: str) -> np.ndarray:
    batch = model.batch([encoded])
    original = layer_outputs(model, name, batch)
    length = len(encoded.input_ids)
    matrices = []
    for layer, clean in enumerate(original):
        distances = np.zeros((length, length))
        for j in range(length):
            changed = layer_outputs(model, name, batch, zero=(layer, j))[layer]
            for i in range(length):
                cosine = clean[i] @ changed[i] / (np.linalg.norm(clean[i]) * np.linalg.norm(changed[i]))
                distances[i, j] = 1.0 - cosine
        if model.kind == "causal-lm":  # a later token's value never reaches an earlier output
            np.testing.assert_allclose(np.triu(distances, 1), 0.0, atol=1e-12)
        matrices.append(distances / distances.sum(1, keepdims=True))
    if aggregate == "mean":
        flow = sum(matrices) / len(matrices)
    else:
        flow = matrices[0]
        for matrix in matrices[1:]:  # the first layer acts first: C_L ... C_1
            flow = matrix @ flow
    n = encoded.n_positions
    rows = [0] if model.kind != "causal-lm" else [n - 1 + t for t in range(len(encoded.target_ids))]
    return flow[rows, :n].sum(0)


@pytest.mark.parametrize("aggregate", ["rollout", "mean"])
@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit"])
def test_value_zeroing_matches_an_explicit_per_layer_per_token_loop(name, aggregate, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    encoded = model.encode(inputs, target)
    expected = explicit_value_zeroing(model, name, encoded, aggregate)
    # two rows per layer call: the chunking must not change a score
    explanation = bench.explain(
        "value-zeroing", model, inputs, target=target, batch_size=2, aggregate=aggregate
    )
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-4, atol=1e-7)
    assert np.ptp(expected) > 0.05  # the tiny models mix context: the check is not vacuous
    # rollout or mean of row-stochastic matrices: each read row has mass 1, less what lands on
    # target tokens
    rows = 1 if model.kind != "causal-lm" else len(encoded.target_ids)
    assert explanation.scores.sum() <= rows + 1e-9
    # one unchanged pass, then T passes' worth of layer calls (L layers x T rows / L)
    assert explanation.cost.forward_passes == len(encoded.input_ids) + 1


@pytest.mark.parametrize("name", ["bert", "llama"])
def test_padding_in_a_batch_does_not_change_scores(name, request):
    model = request.getfixturevalue(name)
    inputs, target = INPUTS[name]
    texts = [inputs, "hello how are you see you later at lunch tomorrow"]
    together = bench.explain("value-zeroing", model, texts, target=target)
    for text, explanation in zip(texts, together, strict=True):
        alone = bench.explain("value-zeroing", model, text, target=target).scores
        np.testing.assert_allclose(explanation.scores, alone, rtol=1e-6, atol=1e-9)


def identity_attention_bert() -> bench.Model:
    """One BERT layer whose attention is the identity: the embeddings are the (layer-normed) one-hot
    vectors of the positions, and queries = keys = 3 x them, so each token attends only to itself
    (off-diagonal weights ~1e-22)."""
    tokenizer = make_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=1,
        intermediate_size=64,
        max_position_embeddings=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    hf = BertForSequenceClassification(config)
    embeddings, attention = hf.bert.embeddings, hf.bert.encoder.layer[0].attention.self
    with torch.no_grad():
        embeddings.word_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        embeddings.position_embeddings.weight.copy_(torch.eye(32))
        for projection in (attention.query, attention.key):
            projection.weight.copy_(3.0 * torch.eye(32))
            projection.bias.zero_()
    return bench.wrap(hf, tokenizer)


def test_attention_that_is_the_identity_mixes_nothing():
    model = identity_attention_bert()
    inputs, target = INPUTS["bert"]
    with torch.no_grad(), model.attention_implementation("eager"):
        weights = model.hf(**model.batch([model.encode(inputs, target)]), output_attentions=True).attentions
    np.testing.assert_allclose(weights[0][0, 0].numpy(), np.eye(weights[0].shape[-1]), atol=1e-12)
    # zeroing token j's value changes only token j's own output: C = I, so [CLS] reads only itself
    scores = bench.explain("value-zeroing", model, inputs, target=target).scores
    np.testing.assert_allclose(scores, np.eye(len(scores))[0], atol=1e-12)


def test_value_zeroing_refuses_a_cnn():
    with pytest.raises(NotApplicableError, match="CNN has no attention"):
        bench.explain("value-zeroing", tiny_cnn(), tiny_image(), target=0)
