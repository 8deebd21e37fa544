"""AtMan against an independent per-token loop with a hand-written attention function."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.masking_utils import eager_mask

import bench
from bench.errors import AttentionNotReachableError, NotApplicableError
from methods.atman import row_chunks, suffix_chunks
from tests.tiny import tiny_image

REFERENCE = "test_reference_atman"
_reference_factors: list[float] = []


def reference_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Batch size 1, no padding: plain loops over heads and rows, written from the paper."""
    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, q_len, dim = query.shape
    assert batch == 1
    scaling = dim**-0.5 if scaling is None else scaling
    output = torch.zeros_like(query)
    for h in range(heads):
        k, v = key[0, h // groups], value[0, h // groups]
        for row in range(q_len):
            scores = [float(query[0, h, row] @ k[j]) * scaling for j in range(k.shape[0])]
            masked = [
                attention_mask is not None and float(attention_mask[0, 0, row, j]) < -1e30
                for j in range(k.shape[0])
            ]
            row_min = min(s for s, m in zip(scores, masked, strict=True) if not m)
            shifted = [
                -math.inf if m else (s - row_min) * _reference_factors[j]
                for j, (s, m) in enumerate(zip(scores, masked, strict=True))
            ]
            top = max(shifted)
            weights = torch.tensor([math.exp(s - top) for s in shifted])
            output[0, h, row] = (weights / weights.sum()) @ v
    return output.transpose(1, 2), None


AttentionInterface.register(REFERENCE, reference_attention)
AttentionMaskInterface.register(REFERENCE, eager_mask)


def reference_scores(model: bench.Model, text: str, target, f: float = 0.9) -> np.ndarray:
    """One forward per suppressed position, each with the reference attention."""
    encoded = model.encode(text, target)
    n = encoded.n_positions
    inputs = model.batch([encoded])
    logprobs = []
    with torch.no_grad(), model.attention_implementation(REFERENCE):
        for suppressed in [None, *range(n)]:
            _reference_factors[:] = [1.0] * len(encoded.input_ids)
            if suppressed is not None:
                _reference_factors[suppressed] = 1 - f
            logprobs.append(float(model.target_logprob(inputs, [encoded])[0]))
    return logprobs[0] - np.array(logprobs[1:])


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_atman_equals_explicit_loop(name, request):
    model = request.getfixturevalue(name)
    target = 1 if model.kind == "classifier" else "now claim"
    expected = reference_scores(model, "free cash prize call now", target)
    explanation = bench.explain("atman", model, "free cash prize call now", target=target)
    assert np.abs(expected).max() > 1e-2, "suppression must change the loss on this model"
    np.testing.assert_allclose(explanation.scores, expected, atol=1e-5)


def test_atman_on_vit_patches_equals_explicit_loop(vit):
    image = tiny_image()
    encoded = vit.encode(image, 2)
    inputs = vit.batch([encoded])
    logprobs = []
    with torch.no_grad(), vit.attention_implementation(REFERENCE):
        for suppressed in [None, *range(encoded.n_positions)]:
            _reference_factors[:] = [1.0] * encoded.n_positions
            if suppressed is not None:
                _reference_factors[suppressed] = 0.1
            logprobs.append(float(vit.target_logprob(inputs, [encoded])[0]))
    explanation = bench.explain("atman", vit, image, target=2)
    np.testing.assert_allclose(explanation.scores, logprobs[0] - np.array(logprobs[1:]), atol=1e-5)
    assert explanation.patch_grid == (4, 4) and len(explanation.scores) == 17


def test_suppression_factor_is_a_parameter(bert):
    expected = reference_scores(bert, "win cash now", 0, f=0.5)
    explanation = bench.explain("atman", bert, "win cash now", target=0, suppression_factor=0.5)
    np.testing.assert_allclose(explanation.scores, expected, atol=1e-5)


def test_padded_batch_equals_one_by_one(bert):
    texts = ["free cash", "hello how are you see you later", "claim your prize now reply stop"]
    together = bench.explain("atman", bert, texts, target=[0, 1, 1], batch_size=5)
    for text, target, explanation in zip(texts, [0, 1, 1], together, strict=True):
        alone = bench.explain("atman", bert, text, target=target)
        np.testing.assert_allclose(explanation.scores, alone.scores, atol=1e-5)


@pytest.mark.parametrize("chunking", [{"batch_size": 2}, {"max_chunk_tokens": 20}, {"max_chunk_tokens": 1}])
def test_chunking_does_not_change_scores(gpt2, chunking):
    def explain(**params):
        return bench.explain("atman", gpt2, "free cash prize call now", "claim", prefix_reuse=False, **params)

    whole = explain(batch_size=64, max_chunk_tokens=None)
    np.testing.assert_allclose(whole.scores, explain(**chunking).scores, atol=1e-5)


def test_row_chunks_are_greedy_within_both_limits():
    lengths = [3, 3, 5, 2, 9, 4, 4, 4, 1]
    chunks = row_chunks(lengths, max_rows=3, max_tokens=10)
    assert [(c.start, c.stop) for c in chunks] == [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9)]
    assert row_chunks(lengths, max_rows=4, max_tokens=math.inf) == [slice(0, 4), slice(4, 8), slice(8, 9)]
    assert row_chunks([], 4, 10) == []


def test_model_restored_after_explaining(bert):
    encoded = bert.encode("free cash prize", 0)
    before_impl = bert.hf.config._attn_implementation
    before = bert.hf(**bert.batch([encoded])).logits
    bench.explain("atman", bert, "free cash prize", target=0)
    assert bert.hf.config._attn_implementation == before_impl
    assert torch.equal(bert.hf(**bert.batch([encoded])).logits, before)
    assert not bert.hf.training


def test_model_restored_after_error(bert, monkeypatch):
    before_impl = bert.hf.config._attn_implementation

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(bert, "target_logprob", broken)
    with pytest.raises(RuntimeError, match="boom"):
        bench.explain("atman", bert, "free cash", target=0)
    assert bert.hf.config._attn_implementation == before_impl


def test_causal_lm_explains_prompt_only_and_scores_whole_target(gpt2):
    prompt, target = "free cash prize", "call now claim"
    explanation = bench.explain("atman", gpt2, prompt, target=target)
    prompt_tokens = gpt2.tokenizer.convert_ids_to_tokens(gpt2.tokenizer(prompt)["input_ids"])
    assert explanation.tokens == prompt_tokens
    # the target log-probability is the teacher-forced sum over every target token
    encoded = gpt2.encode(prompt, target)
    ids = encoded.input_ids.tolist()
    expected = 0.0
    with torch.no_grad():
        for j in range(len(prompt_tokens), len(ids)):
            logits = gpt2.hf(input_ids=torch.tensor([ids[:j]])).logits[0, -1]
            expected += float(logits.log_softmax(-1)[ids[j]])
        got = float(gpt2.target_logprob(gpt2.batch([encoded]), [encoded])[0])
    assert got == pytest.approx(expected, abs=1e-5)


def test_conceptual_suppression_factors(bert):
    encoded = bert.encode("free free cash", 0)
    method = bench.api.get_method("atman", conceptual_threshold=0.2, suppression_factor=0.9)
    factors = method.suppression_factors(bert, encoded).numpy()
    with torch.no_grad():
        emb = bert.embedding_layer(encoded.input_ids).numpy()
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb @ emb.T
    n = encoded.n_positions
    assert np.all(factors[0] == 1)
    for i in range(n):
        for k in range(n):
            want = 0.1 if k == i else (1 - 0.9 * sim[i, k] if sim[i, k] >= 0.2 else 1.0)
            assert factors[1 + i, k] == pytest.approx(want, abs=1e-6)
    # the repeated word is suppressed together with its twin
    assert factors[2, 1] == pytest.approx(0.1, abs=1e-5)


def test_attention_unreachable_is_reported(bert, monkeypatch):
    monkeypatch.setattr(type(bert.hf), "_supports_attention_backend", False)
    with pytest.raises(NotApplicableError, match="AttentionInterface"):
        bench.explain("atman", bert, "free cash", target=0)


def test_attention_bypassed_is_reported(bert, monkeypatch):
    """A model that accepts the setting but never calls the function must not get fake scores."""
    monkeypatch.setattr(bert.hf, "set_attn_implementation", lambda name: None)
    with pytest.raises(AttentionNotReachableError, match="never called"):
        bench.explain("atman", bert, "free cash", target=0)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"conceptual_threshold": 0.2},
        {"batch_size": 3},
        {"pass_cost_positions": 0},  # one variant per chunk
        {"batch_size": 4, "pass_cost_positions": 10_000},  # fixed chunks of 4
        {"max_chunk_tokens": 40},
        {"max_chunk_tokens": None},
    ],
)
def test_prefix_reuse_equals_naive_batched_path(name, params, request):
    model = request.getfixturevalue(name)
    text = "free cash prize call now claim your text msg reply stop"
    fast = bench.explain("atman", model, text, target="hello see you", **params)
    naive = bench.explain("atman", model, text, target="hello see you", prefix_reuse=False, **params)
    assert np.abs(naive.scores).max() > 1e-2
    np.testing.assert_allclose(fast.scores, naive.scores, atol=1e-5)


def _chunking_cost(chunks, starts, length, pass_cost):
    return sum((c.stop - c.start) * (length - starts[c.start]) + pass_cost for c in chunks)


@pytest.mark.parametrize("max_rows,pass_cost", [(3, 0), (3, 5), (8, 2), (8, 40)])
def test_suffix_chunks_are_the_cheapest_cover(max_rows, pass_cost):
    """Against every way of cutting 9 sorted variants into runs of at most max_rows."""
    import itertools

    starts, length = [0, 0, 1, 2, 4, 5, 5, 8, 9], 12
    chunks = suffix_chunks(starts, length, max_rows, pass_cost)
    assert [c.start for c in chunks][0] == 0 and chunks[-1].stop == len(starts)
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    assert all(0 < c.stop - c.start <= max_rows for c in chunks)
    best = math.inf
    for mask in itertools.product([False, True], repeat=len(starts) - 1):
        cuts = [0] + [i + 1 for i, cut in enumerate(mask) if cut] + [len(starts)]
        candidate = [slice(a, b) for a, b in itertools.pairwise(cuts)]
        if all(c.stop - c.start <= max_rows for c in candidate):
            best = min(best, _chunking_cost(candidate, starts, length, pass_cost))
    assert _chunking_cost(chunks, starts, length, pass_cost) == best
