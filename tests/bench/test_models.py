"""The model adapter: kinds, bad input, loading from a local folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench
from bench.errors import InputError


def test_kinds_are_inferred(bert, gpt2, llama, vit):
    assert [m.kind for m in (bert, gpt2, llama, vit)] == [
        "classifier",
        "causal-lm",
        "causal-lm",
        "image-classifier",
    ]


def test_empty_text_is_refused(bert):
    with pytest.raises(InputError, match="empty"):
        bench.explain("atman", bert, "   ")


def test_text_over_the_limit_names_the_limit(bert):
    with pytest.raises(InputError, match="at most 64"):
        bench.explain("atman", bert, "free " * 100)


def test_target_out_of_range(bert):
    with pytest.raises(InputError, match="out of range: .* 2 classes"):
        bench.explain("atman", bert, "free cash", target=2)


def test_unknown_method_lists_known_ones(bert):
    with pytest.raises(KeyError, match="unknown method 'nope'.*atman"):
        bench.explain("nope", bert, "free cash")


def test_unknown_parameter(bert):
    with pytest.raises(InputError, match="unknown parameter.*steps"):
        bench.explain("atman", bert, "free cash", steps=3)


def test_default_target_is_the_prediction(bert):
    encoded = bert.encode("free cash now")
    with torch.no_grad():
        logits = bert.hf(input_ids=encoded.input_ids[None]).logits
    assert encoded.target == int(logits.argmax())


def test_classifier_target_logprob_is_log_softmax(bert):
    encoded = bert.encode("hello how are you", 1)
    with torch.no_grad():
        logits = bert.hf(input_ids=encoded.input_ids[None]).logits[0].double()
        got = float(bert.target_logprob(bert.batch([encoded]), [encoded])[0])
    assert got == pytest.approx(float(logits[1] - torch.logsumexp(logits, 0)), abs=1e-5)


@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_causal_target_logprob_is_teacher_forced_sum_in_a_padded_batch(name, request):
    """Rows of different lengths in one right-padded batch, against full logits row by row."""
    model = request.getfixturevalue(name)
    rows = [model.encode("free cash prize call now", "claim it"), model.encode("hi", "see you there")]
    with torch.no_grad():
        got = model.target_logprob(model.batch(rows), rows)
        for row, value in zip(rows, got, strict=True):
            logprobs = model.hf(input_ids=row.input_ids[None]).logits[0].double().log_softmax(-1)
            expected = sum(
                float(logprobs[position - 1, row.input_ids[position]])
                for position in range(row.n_positions, len(row.input_ids))
            )
            assert float(value) == pytest.approx(expected, abs=1e-4)


def test_special_tokens_are_marked(bert):
    encoded = bert.encode("free cash")
    assert encoded.tokens == ["[CLS]", "free", "cash", "[SEP]"]
    assert encoded.special.tolist() == [True, False, False, True]


def test_unknown_words_are_input_text_not_special(bert, llama):
    """[UNK] is a special token id, but here it stands for a word of the input: metrics may
    remove it and its character span belongs to the text."""
    encoded = bert.encode("free zebra cash")
    assert encoded.tokens == ["[CLS]", "free", "[UNK]", "cash", "[SEP]"]
    assert encoded.special.tolist() == [True, False, False, False, True]
    assert encoded.offsets[2] == (5, 10) and encoded.token_mask([(5, 10)]).tolist() == [0, 0, 1, 0, 0]
    prompt = llama.encode("free zebra", " cash")
    assert "[UNK]" in prompt.tokens and not prompt.special[prompt.tokens.index("[UNK]")]


def test_load_model_from_local_folder(bert, tmp_path):
    bert.hf.save_pretrained(tmp_path)
    bert.tokenizer.save_pretrained(tmp_path)
    loaded = bench.load_model(tmp_path)
    assert loaded.kind == "classifier"
    a = bench.explain("atman", bert, "free cash prize", target=1)
    b = bench.explain("atman", loaded, "free cash prize", target=1)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_cost_counts_forward_passes(bert):
    explanation = bench.explain("atman", bert, "free cash prize", target=1)
    assert explanation.cost.forward_passes == len(explanation.tokens) + 1
    assert explanation.cost.backward_passes == 0
    assert explanation.cost.seconds > 0


def test_a_list_shares_its_passes_and_each_explanation_carries_the_lists_cost(bert):
    texts = ["free cash prize", "see you at lunch tomorrow"]
    together = bench.explain("atman", bert, texts, target=1)
    alone = [bench.explain("atman", bert, text, target=1) for text in texts]
    for batched, single in zip(together, alone, strict=True):
        np.testing.assert_allclose(batched.scores, single.scores, atol=1e-5)
        assert batched.cost is together[0].cost
    assert together[0].cost.forward_passes == sum(single.cost.forward_passes for single in alone)


def test_hand_built_explanation_checks_lengths():
    bench.Explanation(tokens=["a", "b"], scores=[0.1, 0.2])
    with pytest.raises(ValueError, match="one score per token"):
        bench.Explanation(tokens=["a", "b"], scores=[0.1])


def test_character_spans_map_to_tokens(bert):
    text = "hello free cash now"
    encoded = bert.encode(text, 0)
    start = text.index("free cash")
    mask = encoded.token_mask([(start, start + len("free cash"))])
    assert [t for t, m in zip(encoded.tokens, mask, strict=True) if m] == ["free", "cash"]


def test_bad_model_paths_and_texts_fail_at_once_with_one_line(tmp_path, bert):
    import pytest

    from bench.errors import InputError
    from bench.models import load_model

    with pytest.raises(InputError, match="no such local folder: /no/such/model"):
        load_model("/no/such/model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="has no config.json"):
        load_model(tmp_path / "empty")
    bert.hf.save_pretrained(tmp_path / "broken")
    bert.tokenizer.save_pretrained(tmp_path / "broken")
    weights = next((tmp_path / "broken").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(InputError, match="cannot load the folder"):
        load_model(tmp_path / "broken")
    cases = [("\u200b\u200c\x07", "empty after tokenisation"), (b"bytes", "a str; got bytes")]
    for text, message in [*cases, (None, "a str; got NoneType")]:
        with pytest.raises(InputError, match=message):
            bert.encode(text, 1)


def test_a_hub_id_offline_fails_at_once_saying_the_hub_is_unreachable(monkeypatch):
    import time

    import pytest

    from bench.errors import InputError
    from bench.models import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(InputError, match="hub is unreachable and it is not in the local cache"):
        load_model("someone/not-cached-model")
    assert time.perf_counter() - start < 10  # no retries


def greedy_loop(model: bench.Model, prompt_ids: list[int], steps: int, eos: int | None) -> list[int]:
    """Greedy decoding by hand: the argmax of the last position, fed back, until `eos`."""
    ids = list(prompt_ids)
    for _ in range(steps):
        with torch.no_grad():
            token = int(model.hf(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        if token == eos:
            break
        ids.append(token)
    return ids[len(prompt_ids) :]


@pytest.mark.parametrize(("name", "prompt"), [("gpt2", "free cash now"), ("llama", "call me tomorrow")])
def test_no_target_generates_greedily_until_max_new_tokens_or_the_end_token(name, prompt, request):
    model = request.getfixturevalue(name)
    prompt_ids = model.tokenizer(prompt)["input_ids"]
    model.hf.generation_config.eos_token_id = None
    free = greedy_loop(model, prompt_ids, 6, None)
    encoded = model.encode(prompt, max_new_tokens=6)
    assert encoded.target_ids.tolist() == free and len(free) == 6
    assert encoded.target == model.tokenizer.decode(free)
    assert encoded.input_ids.tolist() == prompt_ids + free
    stop = next(token for i, token in enumerate(free) if i >= 2 and token not in free[:i])
    model.hf.generation_config.eos_token_id = stop
    stopped = model.encode(prompt, max_new_tokens=6)
    assert stopped.target_ids.tolist() == greedy_loop(model, prompt_ids, 6, stop) == free[: free.index(stop)]
    explanation = bench.explain("random", model, prompt, max_new_tokens=6)
    assert explanation.target == stopped.target
    assert explanation.target_tokens == model.tokenizer.convert_ids_to_tokens(free[: free.index(stop)])
    assert model.encode(prompt, max_new_tokens=1).target_ids.tolist() == free[:1]


def test_generation_stops_at_the_models_length_limit(gpt2):
    gpt2.hf.generation_config.eos_token_id = None
    prompt = " ".join(["free"] * 60)  # [CLS] + 60 + [SEP]: 62 of tiny_gpt2's 64 positions
    assert len(gpt2.encode(prompt, max_new_tokens=20).target_ids) == 2
    with pytest.raises(InputError, match="no room to generate"):
        gpt2.encode(" ".join(["free"] * 62))


def test_a_generation_that_ends_at_once_or_a_bad_max_new_tokens_is_refused(gpt2, bert):
    first = greedy_loop(gpt2, gpt2.tokenizer("free cash now")["input_ids"], 1, None)[0]
    gpt2.hf.generation_config.eos_token_id = first
    with pytest.raises(InputError, match="no target to explain"):
        gpt2.encode("free cash now")
    for bad in (0, -3, 2.5, True):
        for model in (gpt2, bert):
            with pytest.raises(InputError, match=f"max_new_tokens={bad!r} must be an integer >= 1"):
                bench.explain("random", model, "free cash now", max_new_tokens=bad)


def test_metrics_of_a_generation_are_those_of_its_text_as_the_target(gpt2):
    """bench.evaluate re-encodes the input with the explanation's target: the generated text,
    scored by the target sequence's log-probability, as for a given target."""
    gpt2.hf.generation_config.eos_token_id = gpt2.tokenizer.convert_tokens_to_ids("prize")
    explanation = bench.explain("atman", gpt2, "free cash now")
    assert explanation.target == "call msg me"
    given = bench.explain("atman", gpt2, "free cash now", target="call msg me")
    np.testing.assert_allclose(explanation.scores, given.scores, atol=1e-9)
    metrics = ["deletion", "insertion", "comprehensiveness"]
    generated = bench.evaluate(explanation, gpt2, "free cash now", metrics=metrics)
    assert generated == pytest.approx(bench.evaluate(given, gpt2, "free cash now", metrics=metrics), abs=1e-9)


def test_images_for_text_models_and_texts_for_image_models_are_refused(bert, llama, vit, cnn, tmp_path):
    from PIL import Image

    image = np.zeros((16, 16, 3), np.uint8)
    for model in (bert, llama):
        for inputs in (image, Image.fromarray(image)):
            with pytest.raises(
                InputError, match=f"{model.name} is a text model .*a str; got (ndarray|Image)"
            ):
                model.encode(inputs)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    for model in (vit, cnn):
        with pytest.raises(InputError, match="'a photo of a cat' is no image file"):
            model.encode("a photo of a cat")
        with pytest.raises(InputError, match=f"cannot read {notes} as an image"):
            model.encode(notes)
        with pytest.raises(InputError, match=r"got ndarray of shape \(16,\)"):
            model.encode(np.zeros(16))
        Image.fromarray(image).save(tmp_path / "black.png")
        from_file = model.encode(tmp_path / "black.png")
        assert torch.equal(from_file.pixel_values, model.encode(image).pixel_values)
