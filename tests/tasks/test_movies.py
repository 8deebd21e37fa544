import json
import warnings

import pytest

from bench.errors import InputError
from bench.types import Example
from bench.units import sentence_starts
from tasks.movies import TRAIN_WORDS, Movies, truncate
from tests.data import shared_data
from tests.tiny import tiny_bert


@pytest.fixture(scope="module")
def source():
    path = shared_data("movie_rationales") / "movie_rationales.jsonl"
    return {row["id"]: row for row in map(json.loads, path.open())}


def test_folds_and_labels(source):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        test = Movies(data=shared_data("movie_rationales")).examples("test")
    assert len(test) == 200
    assert sorted(int(e.id.split("_")[1]) % 1000 // 100 for e in test) == [8] * 200
    assert all(e.target == source[e.id[len("movies-") :]]["label_id"] for e in test)
    assert all(e.inputs == source[e.id[len("movies-") :]]["text"] for e in test)  # no word cut
    assert not caught


def test_the_train_split_keeps_the_default_models_word_cut():
    """The default model trained on the last TRAIN_WORDS words; its cache key (the task's params)
    and training data stay those of max_words=TRAIN_WORDS."""
    data = shared_data("movie_rationales")
    default, explicit = Movies(data=data), Movies(data=data, max_words=TRAIN_WORDS)
    assert default.params == explicit.params == {"max_words": TRAIN_WORDS}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train = default.examples("train", 30)
    assert [(e.inputs, e.rationale) for e in train] == [
        (e.inputs, e.rationale) for e in explicit.examples("train", 30)
    ]
    assert max(len(e.inputs.split(" ")) for e in train) == TRAIN_WORDS
    assert any(f"their last {TRAIN_WORDS} words" in str(w.message) for w in caught)


def test_untruncated_reviews_keep_the_source_rationale(source):
    task = Movies(data=shared_data("movie_rationales"), max_words=10**6)
    for example in task.examples("test", n=20):
        row = source[example.id[len("movies-") :]]
        assert example.inputs == row["text"]
        assert [example.inputs[a:b] for a, b in example.rationale] == row["rationales"]


def test_truncation_clips_rationales_to_the_kept_text(source):
    task = Movies(data=shared_data("movie_rationales"), max_words=120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        examples = task.examples("test", n=30)
    for example in examples:
        row = source[example.id[len("movies-") :]]
        assert len(example.inputs.split(" ")) <= 120
        assert row["text"].endswith(example.inputs)
        cut = len(row["text"]) - len(example.inputs)
        expected = [(max(a, cut) - cut, b - cut) for a, b in row["rationale_char_spans"] if b > cut]
        assert example.rationale == expected
        for a, b in example.rationale:  # each clipped span is the tail of a source rationale
            assert any(r.endswith(example.inputs[a:b]) for r in row["rationales"])


def test_truncate_starts_at_a_sentence():
    text = "a b . c d e . f g"
    assert truncate(text, [(0, 1), (8, 11)], max_words=5) == ("f g", [])
    assert truncate(text, [(0, 1), (6, 11)], max_words=6) == ("c d e . f g", [(0, 5)])


def _fits(model, text: str) -> bool:
    """Whether `Model.encode` takes `text` (it refuses inputs over the model's length)."""
    try:
        model.encode(text, 0)
    except InputError as error:
        assert "accepts at most" in str(error)
        return False
    return True


def test_fit_keeps_the_last_whole_sentences_that_the_model_takes(source):
    model = tiny_bert()  # 64 positions: every review is too long
    task = Movies(data=shared_data("movie_rationales"))
    examples = task.examples("test", n=12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fitted = task.fit(examples, model)
    assert [e.id for e in fitted] == [e.id for e in examples]
    assert [str(w.message) for w in caught] == [
        f"movies: 12 of 12 reviews were cut to the last whole sentences that fit {model.name}'s 64 tokens "
        "(rationales clipped to match)"
    ]
    kept_several = 0
    for example, short in zip(examples, fitted, strict=True):
        text = example.inputs
        cut = len(text) - len(short.inputs)
        assert text.endswith(short.inputs) and short.meta["truncated"]
        starts = list(sentence_starts(text))
        assert cut in starts  # a whole-sentence suffix
        previous = starts[starts.index(cut) - 1]
        assert not _fits(model, text[previous:])  # one more sentence would not fit
        if _fits(model, short.inputs):
            assert short.meta["tokens"] == len(model.encode(short.inputs, 0).input_ids) <= 64
            kept_several += len(sentence_starts(short.inputs)) > 1
        else:  # its last sentence alone is too long: kept, and its row fails with the length error
            assert cut == starts[-1]
        # the clipped rationales are the same characters as before
        spans = [(a, b) for a, b in example.rationale if b > cut]
        assert [short.inputs[a:b] for a, b in short.rationale] == [text[max(a, cut) : b] for a, b in spans]
    assert kept_several >= 6


def test_fit_keeps_a_review_the_model_takes_whole_and_cuts_after_max_words():
    model = tiny_bert()
    short = Example("movies-x", "free cash . call now !", 1, [(0, 4), (12, 20)], {"truncated": False})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (fitted,) = Movies().fit([short], model)
    assert not caught
    assert (fitted.inputs, fitted.rationale) == (short.inputs, short.rationale)
    assert fitted.meta == {"truncated": False, "tokens": len(model.encode(short.inputs, 0).input_ids)}
    # an explicit word cut comes first; the fit then cuts what the model still cannot take
    task = Movies(data=shared_data("movie_rationales"), max_words=120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cut = task.examples("test", n=3)
        fitted = task.fit(cut, model)
    assert all(
        c.inputs.endswith(f.inputs) and len(f.inputs) < len(c.inputs)
        for c, f in zip(cut, fitted, strict=True)
    )
