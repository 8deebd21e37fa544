"""What every method shares (bench/method.py): per-token explanations of a generation
(Method.attribute_per_token, AtMan's shortcut), scores per unit, position scores aggregated."""

from __future__ import annotations

import numpy as np
import pytest

import bench
from bench.errors import InputError
from bench.method import Method
from methods.atman import AtMan
from tests.tiny import tiny_bert

PROMPT = "free cash now"
GENERATED = ["call", "msg", "me"]
"""tiny_gpt2's greedy continuation of PROMPT until "prize", made its end token below."""


@pytest.fixture
def gpt2_stopping(gpt2):
    gpt2.hf.generation_config.eos_token_id = gpt2.tokenizer.convert_tokens_to_ids("prize")
    return gpt2


def whole_target_scores(method: str, model, tokens: list[str], **params) -> np.ndarray:
    """The method's scores with the first tokens of the generation as an explicit target text
    (the path that predates generation: the target follows the prompt); zeros for no tokens."""
    if not tokens:
        return np.zeros(len(model.encode(PROMPT, "x").tokens))
    encoded = model.encode(PROMPT, " ".join(tokens))
    assert model.tokenizer.convert_ids_to_tokens(encoded.target_ids.tolist()) == tokens
    return bench.explain(method, model, PROMPT, target=" ".join(tokens), **params).scores


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("atman", {}),
        ("atman", {"prefix_reuse": False}),
        ("input-x-gradient", {}),
        ("occlusion", {}),
    ],
)
def test_each_row_explains_one_generated_token_teacher_forced(gpt2_stopping, method, params):
    """For methods linear in the target tokens' outputs, explaining tokens :t+1 minus explaining
    tokens :t is explaining token t alone after the earlier ones: row t of the matrix."""
    explanation = bench.explain(method, gpt2_stopping, PROMPT, per_token=True, **params)
    assert explanation.target_tokens == GENERATED
    assert explanation.per_token_scores.shape == (3, len(explanation.tokens))
    for t in range(3):
        expected = whole_target_scores(method, gpt2_stopping, GENERATED[: t + 1], **params)
        expected -= whole_target_scores(method, gpt2_stopping, GENERATED[:t], **params)
        np.testing.assert_allclose(explanation.per_token_scores[t], expected, atol=1e-5)
    whole = whole_target_scores(method, gpt2_stopping, GENERATED, **params)
    np.testing.assert_allclose(explanation.scores, whole, atol=1e-5)
    np.testing.assert_allclose(explanation.per_token_scores.sum(0), explanation.scores, atol=1e-5)


@pytest.mark.parametrize("aggregate", ["sum", "squared"])
@pytest.mark.parametrize("conceptual_threshold", [None, 0.2])
def test_atman_shortcut_equals_running_each_token_alone(llama, aggregate, conceptual_threshold):
    """AtMan reads every row off the whole generation's variants; the generic path runs each
    token as its own teacher-forced target. Both aggregates sum over target tokens."""
    atman = AtMan(aggregate=aggregate, conceptual_threshold=conceptual_threshold)
    encoded = llama.encode("call me tomorrow", max_new_tokens=3)
    [(scores, matrix)] = atman.attribute_per_token(llama, [encoded])
    [(generic_scores, generic_matrix)] = Method.attribute_per_token(atman, llama, [encoded])
    # float32 cross-entropies of different batch shapes: equal to float32's ~1e-6 relative
    np.testing.assert_allclose(matrix, generic_matrix, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, generic_scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, atman.attribute_batch(llama, [encoded])[0], rtol=1e-5, atol=1e-5)


def test_the_generic_path_batches_the_whole_target_and_every_token_for_every_input(llama):
    """A list of inputs with per_token: each explanation gets its own matrix, equal to explaining
    that input alone."""
    prompts = ["call me tomorrow", "free cash now"]
    together = bench.explain("saliency", llama, prompts, max_new_tokens=2, per_token=True)
    for prompt, explanation in zip(prompts, together, strict=True):
        alone = bench.explain("saliency", llama, prompt, max_new_tokens=2, per_token=True)
        np.testing.assert_allclose(explanation.per_token_scores, alone.per_token_scores, atol=1e-6)
        np.testing.assert_allclose(explanation.scores, alone.scores, atol=1e-6)


def test_per_token_needs_a_causal_lm(bert, vit):
    for model in (bert, vit):
        inputs = "free cash" if model is bert else np.zeros((16, 16, 3), np.uint8)
        with pytest.raises(InputError, match="per_token explains each target token of a causal LM"):
            bench.explain("atman", model, inputs, per_token=True)


def test_a_hand_built_matrix_must_fit_the_tokens_and_target_tokens():
    with pytest.raises(ValueError, match="per_token_scores needs a row per target token"):
        bench.Explanation(["a", "b"], [1, 2], target_tokens=["x"], per_token_scores=np.zeros((2, 2)))


PIECES_TEXT = "free prizes call the winners now"


@pytest.mark.parametrize("method", ["saliency", "attention"])
def test_position_scores_are_aggregated_into_words_by_sum_mean_or_max(method):
    model = tiny_bert(pieces=True)
    tokens = bench.explain(method, model, PIECES_TEXT, 1)
    words = model.encode(PIECES_TEXT, 1, granularity="word").units
    for how, reduce in (("sum", np.sum), ("mean", np.mean), ("max", np.max)):
        explanation = bench.explain(method, model, PIECES_TEXT, 1, granularity="word", unit_aggregation=how)
        expected = [reduce(tokens.scores[words.positions(u)]) for u in range(words.n_units)]
        np.testing.assert_allclose(explanation.scores, expected, rtol=1e-12)
        assert explanation.tokens == words.texts and explanation.params["unit_aggregation"] == how
    assert len({len(words.positions(u)) for u in range(words.n_units)}) > 1  # words of several tokens


def test_only_methods_that_score_positions_take_a_unit_aggregation():
    with pytest.raises(InputError, match="unit_aggregation='median' is not one of sum, mean, max"):
        bench.api.get_method("saliency", unit_aggregation="median")
    with pytest.raises(InputError, match="unknown parameter"):
        bench.api.get_method("occlusion", unit_aggregation="sum")  # it perturbs whole units


@pytest.mark.parametrize("method", ["input-x-gradient", "atman"])
def test_per_token_rows_are_over_words_too(method):
    """With `per_token`, each target token's row scores the words: a gradient row is its token
    row summed over each word's tokens, AtMan's suppresses each word's tokens together."""
    from tests.tiny import tiny_gpt2

    model, prompt, target = tiny_gpt2(pieces=True), "free prizes call the winners", " claim reply"
    words = bench.explain(method, model, prompt, target=target, per_token=True, granularity="word")
    units = model.encode(prompt, target, granularity="word").units
    assert words.per_token_scores.shape == (2, units.n_units) and units.n_units < units.n_positions
    np.testing.assert_allclose(words.per_token_scores.sum(0), words.scores, atol=1e-5)
    if method == "input-x-gradient":
        tokens = bench.explain(method, model, prompt, target=target, per_token=True)
        np.testing.assert_allclose(
            words.per_token_scores, units.aggregate(tokens.per_token_scores), rtol=1e-10
        )
