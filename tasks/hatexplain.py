"""`hatexplain`: HateXplain (Mathew et al. 2021), 3 classes, with human token rationales.

Each post has three annotators. The label is their majority (posts without one are skipped,
as in HateXplain). The coding is 0 = hatespeech, 1 = normal, 2 = offensive: checked against the
local data, where class 1 never carries rationales and the test counts 594/782/548 match the
paper's class totals. Annotators who chose a non-normal label marked the words behind it; the
ground truth is the majority vote: a token is in the rationale when at least 2 of the 3
annotators marked it (HateXplain's own ERASER evaluation used the union instead). Normal posts
have an empty rationale. Text = the post tokens joined by single spaces; rationales are the
character spans of the voted tokens in that text.

Offline: `data=` a folder with `test.csv` and `val.csv` (`../shared/data/hatexplain/`); the
local copy has no train split, so `train` reads `val.csv` there. Default: the hub dataset.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.task import register_task
from bench.types import Example
from tasks._classifier import TextClassificationTask
from tasks._sources import find_file, hub_split, read_table, seeded_first

HUB_ID = "Hate-speech-CNERG/hatexplain"
LOCAL_FILES = {"train": "val.csv", "val": "val.csv", "test": "test.csv"}
HUB_SPLITS = {"train": "train", "val": "validation", "test": "test"}
COLUMNS = ("id", "annotators", "rationales", "post_tokens")


def majority_rationale(masks: list[list[int]], n_annotators: int) -> list[int]:
    """Indices of tokens marked by more than half of the post's annotators."""
    votes = [sum(column) for column in zip(*masks, strict=True)] if masks else []
    return [i for i, count in enumerate(votes) if 2 * count > n_annotators]


def token_spans(tokens: list[str], indices: list[int]) -> list[tuple[int, int]]:
    """Character spans of `tokens[i]` for i in `indices`, in `" ".join(tokens)`."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return [(starts[i], starts[i] + len(tokens[i])) for i in indices]


def make_example(post_id: str, labels: list[int], masks: list[list[int]], tokens: list[str], where: str):
    """The Example of one post, or None when its annotators have no majority label."""
    if any(label not in (0, 1, 2) for label in labels):
        raise InputError(f"{where}: unknown label in {labels}; expected 0, 1 or 2")
    if any(len(mask) != len(tokens) for mask in masks):
        raise InputError(f"{where}: a rationale mask does not match the {len(tokens)} post tokens")
    label, count = Counter(labels).most_common(1)[0]
    if 2 * count <= len(labels):
        return None
    return Example(
        id=f"hatexplain-{post_id}",
        inputs=" ".join(tokens),
        target=label,
        rationale=token_spans(tokens, majority_rationale(masks, len(labels))),
        meta={"annotator_labels": labels},
    )


@register_task("hatexplain")
class HateXplain(TextClassificationTask):
    """HateXplain hate/normal/offensive with majority-vote human rationales (hub or --data CSVs)."""

    name = "hatexplain"
    local_copy = "hatexplain"
    has_rationale = True
    labels = ("hatespeech", "normal", "offensive")
    training = {"n_train": None, "epochs": 2, "max_length": 96}

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if params:
            raise InputError(f"task 'hatexplain' takes no parameters, got {', '.join(sorted(params))}")
        super().__init__(data, seed)

    def _posts(self, split: str) -> list[Example]:
        if split not in LOCAL_FILES:
            raise InputError(f"task 'hatexplain' has splits {', '.join(LOCAL_FILES)}, not {split!r}")
        if self.data is None:
            rows = hub_split(HUB_ID, HUB_SPLITS[split])
            posts = [
                make_example(
                    row["id"], row["annotators"]["label"], row["rationales"], row["post_tokens"], row["id"]
                )
                for row in rows
            ]
        else:
            path = find_file(self.data, [LOCAL_FILES[split]], "hatexplain")
            posts = []
            for line, row in enumerate(read_table(path, ",", COLUMNS), start=2):
                where = f"{path} row {line}"
                try:
                    labels = ast.literal_eval(row["annotators"])["label"]
                    masks = ast.literal_eval(row["rationales"])
                    tokens = ast.literal_eval(row["post_tokens"])
                except (ValueError, SyntaxError, KeyError, TypeError) as error:
                    raise InputError(
                        f"{where}: cannot parse annotators/rationales/post_tokens ({error})"
                    ) from None
                posts.append(make_example(row["id"], labels, masks, tokens, where))
        return [post for post in posts if post is not None]

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        return seeded_first(self._posts(split), n, self.seed)
