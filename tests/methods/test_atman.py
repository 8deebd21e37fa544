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
from bench.prefix_reuse import suffix_chunks
from methods.atman import row_chunks
from tests.tiny import tiny_bert, tiny_gpt2, tiny_image

REFERENCE = "test_reference_atman"
_reference = {"factors": [], "row_min": "valid"}
"""What the reference attention applies in the next forward: one factor per key, and which keys
each row's minimum is taken over ("valid": unmasked; "all": every key, as the official code)."""


def reference_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """Batch size 1, no padding: plain loops over heads and rows, written from the paper."""
    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, q_len, dim = query.shape
    assert batch == 1
    scaling = dim**-0.5 if scaling is None else scaling
    factors = _reference["factors"]
    output = torch.zeros_like(query)
    for h in range(heads):
        k, v = key[0, h // groups], value[0, h // groups]
        for row in range(q_len):
            scores = [float(query[0, h, row] @ k[j]) * scaling for j in range(k.shape[0])]
            masked = [
                attention_mask is not None and float(attention_mask[0, 0, row, j]) < -1e30
                for j in range(k.shape[0])
            ]
            if _reference["row_min"] == "all":
                row_min = min(scores)
            else:
                row_min = min(s for s, m in zip(scores, masked, strict=True) if not m)
            shifted = [
                -math.inf if m else (s - row_min) * factors[j]
                for j, (s, m) in enumerate(zip(scores, masked, strict=True))
            ]
            top = max(shifted)
            weights = torch.tensor([math.exp(s - top) for s in shifted])
            output[0, h, row] = (weights / weights.sum()) @ v
    return output.transpose(1, 2), None


AttentionInterface.register(REFERENCE, reference_attention)
AttentionMaskInterface.register(REFERENCE, eager_mask)


def target_token_logprobs(model: bench.Model, encoded, inputs) -> list[float]:
    """log p of each target token (one value for a class), from the raw logits."""
    logits = model.hf(**inputs).logits[0].double().log_softmax(-1)
    if model.kind != "causal-lm":
        return [float(logits[encoded.target])]
    n = encoded.n_positions
    return [float(logits[n - 1 + t, int(token)]) for t, token in enumerate(encoded.target_ids)]


def reference_logprobs(model: bench.Model, encoded, variants, row_min: str = "valid") -> np.ndarray:
    """(1 + variants, target tokens): the unsuppressed pass, then one forward per variant, a
    variant being {position: factor} over every position the model reads."""
    inputs = model.batch([encoded])
    rows = []
    with torch.no_grad(), model.attention_implementation(REFERENCE):
        for variant in [{}, *variants]:
            _reference["factors"] = [variant.get(j, 1.0) for j in range(len(encoded.input_ids))]
            _reference["row_min"] = row_min
            rows.append(target_token_logprobs(model, encoded, inputs))
    return np.array(rows)


def reference_scores(
    model: bench.Model, text: str, target, f: float = 0.9, aggregate: str = "sum", row_min: str = "valid"
) -> np.ndarray:
    """One forward per suppressed position, each with the reference attention; per target token
    the change of its cross-entropy, summed (signed) or squared and summed."""
    encoded = model.encode(text, target)
    logprobs = reference_logprobs(model, encoded, [{i: 1 - f} for i in range(encoded.n_positions)], row_min)
    deltas = logprobs[0] - logprobs[1:]
    return (deltas**2).sum(-1) if aggregate == "squared" else deltas.sum(-1)


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
    logprobs = reference_logprobs(vit, encoded, [{i: 0.1} for i in range(encoded.n_positions)])
    explanation = bench.explain("atman", vit, image, target=2)
    np.testing.assert_allclose(explanation.scores, (logprobs[0] - logprobs[1:])[:, 0], atol=1e-5)
    assert explanation.patch_grid == (4, 4) and len(explanation.scores) == 17


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_squared_aggregation_sums_squared_per_token_changes(name, request):
    """The official evaluation's square_outputs=True: per target token, squared, then summed."""
    model = request.getfixturevalue(name)
    target = 1 if model.kind == "classifier" else "now claim reply"
    expected = reference_scores(model, "free cash prize call now", target, aggregate="squared")
    signed = reference_scores(model, "free cash prize call now", target)
    explanation = bench.explain(
        "atman", model, "free cash prize call now", target=target, aggregate="squared"
    )
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-4, atol=1e-7)
    assert np.all(explanation.scores >= 0)
    if model.kind == "causal-lm":  # not the square of the summed change: the tokens count one by one
        assert np.abs(expected - signed**2).max() > 1e-3 * np.abs(expected).max()


@pytest.mark.parametrize("name", ["gpt2", "llama"])
@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_row_min_over_all_keys_equals_a_hand_written_attention(name, prefix_reuse, request):
    """The official code's minimum over every key of a row, the causally masked ones included."""
    model = request.getfixturevalue(name)
    text, target = "free cash prize call now", "claim reply"
    expected = reference_scores(model, text, target, row_min="all")
    valid = reference_scores(model, text, target, row_min="valid")
    assert np.abs(expected - valid).max() > 1e-3  # the two minima give different scores here
    explanation = bench.explain("atman", model, text, target=target, row_min="all", prefix_reuse=prefix_reuse)
    np.testing.assert_allclose(explanation.scores, expected, atol=1e-5)


def test_row_min_over_all_keys_ignores_padding(gpt2):
    texts, targets = ["free cash", "hello how are you see you later"], ["now", "claim reply"]
    together = bench.explain("atman", gpt2, texts, target=targets, row_min="all", prefix_reuse=False)
    for text, target, explanation in zip(texts, targets, together, strict=True):
        alone = reference_scores(gpt2, text, target, row_min="all")
        np.testing.assert_allclose(explanation.scores, alone, atol=1e-5)


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

    monkeypatch.setattr(bert, "forward_for_target", broken)
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


def hand_patch_embeddings(vit, encoded) -> np.ndarray:
    """(patches, hidden): each 4x4 patch's pixels times the projection's weights, plus its bias."""
    projection = vit.hf.vit.embeddings.patch_embeddings.projection
    weight = projection.weight.detach().double().numpy().reshape(projection.out_channels, -1)
    bias = projection.bias.detach().double().numpy()
    pixels = encoded.pixel_values[0].double().numpy()
    size = projection.kernel_size[0]
    rows, cols = encoded.patch_grid
    return np.array(
        [
            weight @ pixels[:, r * size : (r + 1) * size, c * size : (c + 1) * size].reshape(-1) + bias
            for r in range(rows)
            for c in range(cols)
        ]
    )


def test_conceptual_suppression_on_vit_patches_uses_their_patch_embeddings(vit):
    image, kappa, f = tiny_image(), 0.3, 0.9
    encoded = vit.encode(image, 2)
    embeddings = hand_patch_embeddings(vit, encoded)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    sim = embeddings @ embeddings.T
    n = encoded.n_positions
    variants = [{0: 1 - f}]  # [CLS] has no patch embedding: it is suppressed alone
    for i in range(n - 1):
        variant = {1 + k: 1 - f * sim[i, k] for k in range(n - 1) if sim[i, k] >= kappa}
        variants.append({**variant, 1 + i: 1 - f})
    assert sum(len(v) for v in variants) > n + 4  # several patches are suppressed with others
    logprobs = reference_logprobs(vit, encoded, variants)

    method = bench.api.get_method("atman", conceptual_threshold=kappa, suppression_factor=f)
    factors = method.suppression_factors(vit, encoded).numpy()
    for row, variant in zip(factors[1:], variants, strict=True):
        np.testing.assert_allclose(row, [variant.get(j, 1.0) for j in range(n)], atol=1e-6)
    explanation = bench.explain("atman", vit, image, target=2, conceptual_threshold=kappa)
    np.testing.assert_allclose(explanation.scores, (logprobs[0] - logprobs[1:])[:, 0], atol=1e-5)


@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_conceptual_suppression_reaches_a_causal_lms_target_tokens(gpt2, prefix_reuse):
    """As the official code, similarity spans every position read: the prompt's 'cash' takes the
    teacher-forced target's 'cash' with it."""
    prompt, target, kappa, f = "free cash prize", "cash now claim", 0.9, 0.9
    encoded = gpt2.encode(prompt, target)
    ids = encoded.input_ids.tolist()
    with torch.no_grad():
        emb = gpt2.embedding_layer(encoded.input_ids).double().numpy()
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    sim = emb @ emb.T
    variants = []
    for i in range(encoded.n_positions):
        variant = {k: 1 - f * sim[i, k] for k in range(len(ids)) if sim[i, k] >= kappa}
        variants.append({**variant, i: 1 - f})
    cash = ids.index(gpt2.tokenizer.convert_tokens_to_ids("cash"))
    assert variants[cash][encoded.n_positions] == pytest.approx(1 - f)  # the target's 'cash'
    logprobs = reference_logprobs(gpt2, encoded, variants)
    explanation = bench.explain(
        "atman", gpt2, prompt, target=target, conceptual_threshold=kappa, prefix_reuse=prefix_reuse
    )
    np.testing.assert_allclose(explanation.scores, (logprobs[0] - logprobs[1:]).sum(-1), atol=1e-5)


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


@pytest.mark.parametrize("kind", ["classifier", "causal-lm"])
@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_word_atman_suppresses_a_words_tokens_together_in_one_variant(kind, prefix_reuse):
    """Word granularity: one variant per word, every key of the word scaled by 1 - f at once."""
    model = tiny_bert(pieces=True) if kind == "classifier" else tiny_gpt2(pieces=True)
    text, target = "free prizes call the winners now", 1 if kind == "classifier" else " claim reply"
    encoded = model.encode(text, target, granularity="word")
    units = encoded.units
    assert units.n_units < encoded.n_positions  # "prizes" and "winners" are several tokens
    variants = [{int(j): 0.1 for j in units.positions(u)} for u in range(units.n_units)]
    logprobs = reference_logprobs(model, encoded, variants)
    expected = (logprobs[0] - logprobs[1:]).sum(-1)
    explanation = bench.explain("atman", model, text, target, granularity="word", prefix_reuse=prefix_reuse)
    assert explanation.tokens == units.texts and "winners" in explanation.tokens
    np.testing.assert_allclose(explanation.scores, expected, atol=1e-5)
    per_token = bench.explain("atman", model, text, target, prefix_reuse=prefix_reuse)
    winners = units.positions(explanation.tokens.index("winners"))
    assert abs(expected[explanation.tokens.index("winners")] - per_token.scores[winners].sum()) > 1e-4
