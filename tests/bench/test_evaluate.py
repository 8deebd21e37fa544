import numpy as np
import pytest

import bench
from bench.errors import InputError
from tests.bench.metrics._hand import prob_without


def test_hand_built_explanation_is_evaluated_by_re_encoding(bert):
    text = "free cash call now"
    encoded = bert.encode(text, 1)
    scores = [0.0, 4.0, 3.0, 2.0, 1.0, 0.0]  # ranks free, cash, call, now
    explanation = bench.Explanation(tokens=encoded.tokens, scores=scores, target=1)  # no special mask given

    result = bench.evaluate(explanation, bert, text, metrics=["deletion", "map"], rationale=[(0, 4)])

    mask_id = bert.tokenizer.mask_token_id
    y = [prob_without(bert, encoded, [1, 2, 3, 4][:k], mask_id) for k in range(5)]
    assert result["deletion"] == pytest.approx(sum((y[i] + y[i + 1]) / 2 / 4 for i in range(4)), abs=1e-6)
    assert result["map"] == pytest.approx(4 / 10)


def test_example_supplies_the_rationale_and_defaults_pick_metrics(bert):
    example = bench.Example("e", "free cash call now", 1, rationale=[(0, 4)])
    explanation = bench.explain("random", bert, example.inputs, target=1)
    result = bench.evaluate(explanation, bert, example)
    assert {"deletion", "insertion", "loo_tau", "auprc", "map", "seconds"} <= set(result)
    without_rationale = bench.evaluate(explanation, bert, example.inputs)
    assert "auprc" not in without_rationale and "deletion" in without_rationale


def test_explanation_of_another_input_is_refused(bert):
    explanation = bench.Explanation(tokens=["a", "b"], scores=np.zeros(2), target=1)
    with pytest.raises(InputError, match="2 scores but the model encodes the input into 6 positions"):
        bench.evaluate(explanation, bert, "free cash call now", metrics=["deletion"])


def test_evaluate_refuses_non_finite_scores_and_tokens_of_another_input(bert):
    import numpy as np
    import pytest

    import bench
    from bench.errors import InputError

    encoded = bert.encode("free cash call now", 1)
    scores = np.arange(encoded.n_positions, dtype=float)
    for bad in (np.nan, np.inf):
        broken = scores.copy()
        broken[2] = bad
        explanation = bench.Explanation(encoded.tokens, broken, 1, special_tokens=encoded.special)
        with pytest.raises(InputError, match="non-finite scores"):
            bench.evaluate(explanation, bert, "free cash call now", ["deletion"])
    other = bench.Explanation(encoded.tokens, scores, 1, special_tokens=encoded.special)
    with pytest.raises(InputError, match="tokens differ.*position 1: 'free' vs 'hello'"):
        bench.evaluate(other, bert, "hello cash call now", ["deletion"])  # same length, other words


def test_a_word_explanation_is_evaluated_on_words():
    """Deletion removes whole words ("prizes" = prize ##s) in the explanation's ranking."""
    from tests.tiny import tiny_bert

    model, text = tiny_bert(pieces=True), "free prizes call now"
    encoded = model.encode(text, 1, granularity="word")
    assert encoded.units.texts == ["[CLS]", "free", "prizes", "call", "now", "[SEP]"]
    explanation = bench.Explanation(
        tokens=encoded.units.texts, scores=[0.0, 1.0, 4.0, 3.0, 2.0, 0.0], target=1, granularity="word"
    )
    result = bench.evaluate(explanation, model, text, metrics=["deletion"])
    mask_id = model.tokenizer.mask_token_id
    removed_positions = [[], [2, 3], [2, 3, 4], [2, 3, 4, 5], [1, 2, 3, 4, 5]]  # prizes, call, now, free
    y = [prob_without(model, model.encode(text, 1), positions, mask_id) for positions in removed_positions]
    assert result["deletion"] == pytest.approx(sum((y[i] + y[i + 1]) / 2 / 4 for i in range(4)), abs=1e-6)
    with pytest.raises(InputError, match="at the same granularity"):
        bench.evaluate(explanation, model, text, metrics=["deletion"], granularity="token")
