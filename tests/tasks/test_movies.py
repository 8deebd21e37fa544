import json
import warnings

import pytest

from tasks.movies import Movies, truncate
from tests.data import shared_data


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
    assert any("truncated" in str(w.message) for w in caught)


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
