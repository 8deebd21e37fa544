import math

import numpy as np
import pytest

from bench.evaluate import score_explanation
from bench.metric import curve_steps
from tests.bench.metrics._hand import TEXT, explained, prob_without, ranked, trapezoid


@pytest.mark.parametrize("replacement", ["mask", "unk", "delete"])
def test_deletion_curve_equals_loop_of_single_forwards(bert, replacement):
    encoded, explanation = explained(bert)
    order = ranked(encoded, explanation.scores)
    token_id = {"mask": bert.tokenizer.mask_token_id, "unk": bert.tokenizer.unk_token_id, "delete": None}
    expected = [prob_without(bert, encoded, order[:k], token_id[replacement]) for k in range(len(order) + 1)]

    values, curves = score_explanation(
        explanation, bert, encoded, ["deletion"], replacement=replacement, batch_size=4
    )

    np.testing.assert_allclose(curves["deletion"], expected, atol=1e-6)
    assert values["deletion"] == pytest.approx(trapezoid(expected), abs=1e-6)


def test_insertion_starts_from_everything_replaced(bert):
    encoded, explanation = explained(bert)
    order = ranked(encoded, explanation.scores)
    mask_id = bert.tokenizer.mask_token_id
    expected = [prob_without(bert, encoded, order[k:], mask_id) for k in range(len(order) + 1)]

    values, curves = score_explanation(explanation, bert, encoded, ["insertion"])

    np.testing.assert_allclose(curves["insertion"], expected, atol=1e-6)
    assert values["insertion"] == pytest.approx(trapezoid(expected), abs=1e-6)
    # the two curves meet at their ends: full input and everything replaced
    _, deletion = score_explanation(explanation, bert, encoded, ["deletion"])
    assert deletion["deletion"][0] == pytest.approx(curves["insertion"][-1])
    assert deletion["deletion"][-1] == pytest.approx(curves["insertion"][0])


def test_long_inputs_use_twenty_equal_fractions():
    assert curve_steps(64).tolist() == list(range(65))
    assert curve_steps(100).tolist() == [5 * j for j in range(21)]
    assert curve_steps(70).tolist() == [round(70 * j / 20) for j in range(21)]


def test_special_tokens_are_never_removed(bert):
    encoded, explanation = explained(bert, scores=None)
    explanation.scores[0] = 1e9  # [CLS] ranked first must still stay
    _, curves = score_explanation(explanation, bert, encoded, ["deletion"])
    assert len(curves["deletion"]) == int((~encoded.special).sum()) + 1


@pytest.mark.parametrize("text", [TEXT, " ".join([TEXT] * 6)])  # 10 and 60 ranked tokens
def test_aopc_is_the_mean_drop_over_the_first_fifth_of_the_deletion_steps(bert, text):
    """Samek et al. 2017: 1/(L+1) sum_{k=0..L} (y_0 - y_k), L = ceil(0.2 * N)."""
    encoded, explanation = explained(bert, text=text)
    order = ranked(encoded, explanation.scores)
    mask_id = bert.tokenizer.mask_token_id
    steps = math.ceil(0.2 * len(order))
    y = [prob_without(bert, encoded, order[:k], mask_id) for k in range(steps + 1)]

    values, _ = score_explanation(explanation, bert, encoded, ["aopc"])

    assert values["aopc"] == pytest.approx(sum(y[0] - v for v in y) / (steps + 1), abs=1e-6)
    whole_curve = [prob_without(bert, encoded, order[:k], mask_id) for k in range(len(order) + 1)]
    assert abs(values["aopc"] - np.mean(whole_curve[0] - np.array(whole_curve))) > 1e-3  # not the old mean


@pytest.mark.parametrize("name", ["gpt2", "llama"])
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_causal_variants_reuse_the_prefix_and_score_as_full_passes(name, batch_size, request):
    """In-place removal leaves a causal LM's positions before the first removed one unchanged:
    the prefix-reuse path gives the full passes' log-probabilities."""
    from bench.perturbation import Perturber

    model = request.getfixturevalue(name)
    encoded = model.encode("free cash call now hello how are you the prize free cash", " claim it now")
    masks = np.random.default_rng(0).random((30, encoded.n_positions)) < 0.3
    masks[:, np.asarray(encoded.special, dtype=bool)] = False
    masks[0] = False  # the input itself
    reused = Perturber(model, encoded, "mask", batch_size)
    assert reused.reuses_prefix
    full = Perturber(model, encoded, "mask", batch_size, prefix_reuse=False)
    np.testing.assert_allclose(reused.logprobs(masks), full.logprobs(masks), atol=1e-5)
    assert reused._unchanged is not None  # the shared-prefix path ran


def test_removals_already_computed_for_the_input_are_not_run_again(bert):
    """aopc's steps and comprehensiveness's bins are steps of the deletion curve; a second
    explanation with the same ranking needs no pass at all. Values stay the loop's."""
    encoded, explanation = explained(bert)
    shared: dict = {}
    before = bert.passes.forward
    score_explanation(explanation, bert, encoded, ["deletion"], input_cache=shared)
    after_deletion = bert.passes.forward
    values, _ = score_explanation(
        explanation, bert, encoded, ["aopc", "comprehensiveness", "deletion"], input_cache=shared
    )
    assert bert.passes.forward == after_deletion > before  # every removal was a deletion step
    order = ranked(encoded, explanation.scores)
    mask = bert.tokenizer.mask_token_id
    full = prob_without(bert, encoded, [], mask)
    steps = math.ceil(0.2 * len(order))  # L; k = 0 adds y_0 - y_0 = 0 and counts in the L + 1
    drops = [full - prob_without(bert, encoded, order[:k], mask) for k in range(1, steps + 1)]
    samek = sum(drops) / (steps + 1)
    assert values["aopc"] == pytest.approx(samek, abs=1e-6)
