import ast
from collections import Counter

import pytest

from bench.errors import InputError
from tasks.hatexplain import HateXplain, majority_rationale
from tests.data import shared_data


@pytest.fixture(scope="module")
def test_split():
    return HateXplain(data=shared_data("hatexplain")).examples("test")


def test_counts_and_label_coding(test_split):
    assert len(test_split) == 1924
    # HateXplain's test split: 594 hatespeech, 782 normal, 548 offensive
    assert Counter(e.target for e in test_split) == {0: 594, 1: 782, 2: 548}
    assert all(not e.rationale for e in test_split if e.target == 1)
    # annotators of hate speech nearly always agree on some words (7 of 594 posts: on none)
    assert sum(not e.rationale for e in test_split if e.target == 0) == 7


def test_majority_rationale_by_hand(test_split):
    # test.csv row "17372469_gab": masks [0,0,1,1,..], [0,0,1,0,..], [0,0,1,1,..] -> tokens 2 and 3
    example = {e.id: e for e in test_split}["hatexplain-17372469_gab"]
    assert example.inputs == "an these nigger biches look like godzilla nasty"
    assert example.target == 0
    assert [example.inputs[a:b] for a, b in example.rationale] == ["nigger", "biches"]


def test_majority_vote_against_the_raw_file(test_split):
    """Independent recount from the CSV: a token counts when >= 2 of 3 annotators marked it."""
    import csv

    by_id = {e.id: e for e in test_split}
    with open(shared_data("hatexplain") / "test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:300]
    for row in rows:
        tokens = ast.literal_eval(row["post_tokens"])
        masks = ast.literal_eval(row["rationales"])
        expected = [tokens[i] for i in range(len(tokens)) if sum(mask[i] for mask in masks) >= 2]
        example = by_id[f"hatexplain-{row['id']}"]
        assert [example.inputs[a:b] for a, b in example.rationale] == expected


def test_majority_rationale_rule():
    assert majority_rationale([[1, 0, 1], [1, 1, 0]], n_annotators=3) == [0]
    assert majority_rationale([[1, 0], [1, 1], [0, 1]], n_annotators=3) == [0, 1]
    assert majority_rationale([], n_annotators=3) == []


def test_local_train_split_is_the_validation_file():
    task = HateXplain(data=shared_data("hatexplain"))
    assert len(task.examples("train")) == 1922
    assert {e.id for e in task.examples("train")} == {e.id for e in task.examples("val")}


def test_bad_row_is_named(tmp_path):
    (tmp_path / "test.csv").write_text(
        "id,annotators,rationales,post_tokens\nx,\"{'label': [0, 5, 5]}\",[],\"['hi']\"\n"
    )
    with pytest.raises(InputError, match="test.csv row 2: unknown label"):
        HateXplain(data=tmp_path).examples("test")


def test_hub_layout(monkeypatch):
    """The hub rows carry the same fields already parsed (annotators as a dict of lists)."""
    row = {
        "id": "p1",
        "annotators": {"label": [2, 2, 1], "annotator_id": [1, 2, 3], "target": [[], [], []]},
        "rationales": [[0, 1, 1], [0, 1, 0]],
        "post_tokens": ["you", "stupid", "cat"],
    }
    monkeypatch.setattr("tasks.hatexplain.hub_split", lambda hub_id, split: [row])
    (example,) = HateXplain().examples("test")
    assert (example.inputs, example.target) == ("you stupid cat", 2)
    assert [example.inputs[a:b] for a, b in example.rationale] == ["stupid"]
