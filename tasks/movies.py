"""`movies`: movie-review sentiment with human rationales (Zaidan et al. 2007; ERASER "movies").

Reviews average ~740 words, beyond a small encoder's 512-token limit and costly for
perturbation methods, so each review is truncated to its last `max_words` words (default 256;
reviews end with the verdict), starting at the first sentence boundary inside that window, and
the rationale spans are clipped and shifted to match. A warning says how many reviews were cut.
The text is already lower-cased and tokenised (words joined by single spaces).

Splits: `test` = fold 8 (files 800-899 of each class, 200 reviews), `train` = folds 0-7.
Local only: `data=` the folder `../shared/data/movie_rationales/` or its JSONL file. The
hub id `eraser-benchmark/movie_rationales` (the default) has no fold field: its own splits are used.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.task import register_task
from bench.types import Example
from tasks._classifier import TextClassificationTask
from tasks._sources import find_file, hub_split, parse_label, read_jsonl, seeded_first

HUB_ID = "eraser-benchmark/movie_rationales"
HUB_SPLITS = {"train": "train", "test": "test"}
FILE = "movie_rationales.jsonl"
TEST_FOLD = 8
LABELS = {"neg": 0, "pos": 1, "0": 0, "1": 1}
SENTENCE_END = "."
MAX_SENTENCE_SEARCH = 60
"""Words searched for a sentence boundary at the start of the kept window."""


def truncate(text: str, spans: list[tuple[int, int]], max_words: int) -> tuple[str, list[tuple[int, int]]]:
    """The last `max_words` words of `text` (from the first sentence start in that window) and
    the spans clipped to it and shifted to its coordinates."""
    words = text.split(" ")
    if len(words) <= max_words:
        return text, spans
    first = len(words) - max_words
    window = words[first : first + MAX_SENTENCE_SEARCH]
    if words[first - 1] != SENTENCE_END and SENTENCE_END in window[:-1]:
        first += window.index(SENTENCE_END) + 1
    cut = sum(len(word) + 1 for word in words[:first])
    clipped = [(max(a, cut) - cut, b - cut) for a, b in spans if b > cut]
    return text[cut:], clipped


@register_task("movies")
class Movies(TextClassificationTask):
    """Movie-review sentiment with human rationales, truncated reviews (--data folder of JSONL)."""

    name = "movies"
    local_copy = "movie_rationales"
    granularity = "sentence"  # ~11 sentences per review instead of ~270 tokens to perturb one by one
    has_rationale = True
    labels = ("negative", "positive")
    training = {"n_train": 800, "epochs": 2, "max_length": 384, "learning_rate": 1e-4}
    """800 reviews twice at rate 1e-4: 85.5% test accuracy in ~10 min on 2 shared CPU cores (at 5e-5:
    81.0%; all 1,600 reviews twice at 5e-5: 84.5% in 21 min)."""

    def __init__(self, data: str | Path | None = None, seed: int = 0, max_words: int = 256, **params: Any):
        if params:
            raise InputError(f"task 'movies' takes only max_words, got {', '.join(sorted(params))}")
        if max_words < 1:
            raise InputError(f"task 'movies': max_words must be positive, got {max_words}")
        super().__init__(data, seed, max_words=max_words)
        self.max_words = max_words

    def _rows(self, split: str) -> list[tuple[str, str, int, list[tuple[int, int]]]]:
        """(id, text, label, rationale char spans) of a split, before truncation."""
        if split not in HUB_SPLITS:
            raise InputError(f"task 'movies' has splits {', '.join(HUB_SPLITS)}, not {split!r}")
        if self.data is None:
            return [
                (f"hub-{i}", row["review"], int(row["label"]), _locate(row["review"], row["evidences"]))
                for i, row in enumerate(hub_split(HUB_ID, HUB_SPLITS[split]))
            ]
        path = find_file(self.data, [FILE], "movies")
        rows = read_jsonl(path, required=("id", "label", "fold", "text", "rationale_char_spans"))
        wanted = (lambda fold: fold == TEST_FOLD) if split == "test" else (lambda fold: fold != TEST_FOLD)
        return [
            (
                row["id"],
                row["text"],
                parse_label(row["label"], LABELS, f"{path} line {line}"),
                [(int(a), int(b)) for a, b in row["rationale_char_spans"]],
            )
            for line, row in enumerate(rows, start=1)
            if wanted(int(row["fold"]))
        ]

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        examples, cut = [], 0
        for review_id, text, label, spans in seeded_first(self._rows(split), n, self.seed):
            short, clipped = truncate(text, spans, self.max_words)
            cut += short != text
            meta = {"truncated": short != text, "original_words": len(text.split(" "))}
            examples.append(
                Example(id=f"movies-{review_id}", inputs=short, target=label, rationale=clipped, meta=meta)
            )
        if cut:
            warnings.warn(
                f"movies: {cut} of {len(examples)} reviews were truncated to their last {self.max_words} "
                "words (rationales clipped to match); pass max_words to change this",
                stacklevel=2,
            )
        return examples


def _locate(text: str, evidences: list[str]) -> list[tuple[int, int]]:
    """Character spans of the hub's rationale snippets (given as text) in the review."""
    spans = []
    for snippet in evidences:
        start = text.find(snippet)
        if start >= 0:
            spans.append((start, start + len(snippet)))
    return spans
