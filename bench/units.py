"""Units: what an explanation scores and a metric removes (a token, a word, a sentence, a patch).

A `Units` map partitions the explained positions of one `Encoded` into consecutive runs: unit u
is positions `starts[u]:starts[u + 1]`. Special positions ([CLS], [SEP], BOS) are units of their
own and are never removed. Token granularity is the map where every unit is one position, so
methods and metrics have one code path: they perturb or aggregate by unit (a suppressed unit =
all its key columns, a removed unit = all its positions), and for tokens that is what they did
per position.

Words come from the tokenizer's own boundaries: a new word starts where the tokenizer's word id
changes (`word_ids()` of fast tokenizers: WordPiece's words and punctuation, byte-level BPE's
pre-tokenizer chunks) or where whitespace precedes the token (its character offsets: the
boundary of byte-level and SentencePiece tokenizers, whose tokens carry the space). Sentences
are runs of words split by a deliberately simple rule (`sentence_starts`), so a sentence never
cuts a word. A unit's text is its span of the input text, stripped; a token unit's text is the
token itself, so token-level explanations read as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import InputError

GRANULARITIES = ("token", "word", "sentence")
"""What a text explanation scores; images explain patches (their token granularity)."""
DEFAULT_GRANULARITY = "token"
"""The AtMan paper's unit, and every method's before granularity existed."""
UNIT_AGGREGATIONS = ("sum", "mean", "max")
"""How a method that scores positions (gradients, attention) turns them into one score per unit."""

SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*")
"""Where one sentence ends and the next begins: after `.`, `!` or `?` (with any closing quotes
or brackets) followed by whitespace, and at every line break. Abbreviations ("e.g. this") split
too: the rule is meant to be predictable, not linguistic."""


@dataclass
class Units:
    """A partition of the explained positions into consecutive units, with their texts."""

    granularity: str
    starts: np.ndarray
    """(n_units + 1,) int: unit u covers positions starts[u]:starts[u + 1]."""
    texts: list[str]
    special: np.ndarray
    """(n_units,) bool: special units (one special position each), never removed."""
    unit_of: np.ndarray = field(init=False, repr=False)
    """(n_positions,) int: the unit of each position."""

    def __post_init__(self) -> None:
        self.starts = np.asarray(self.starts, dtype=np.int64)
        self.special = np.asarray(self.special, dtype=bool)
        self.unit_of = np.repeat(np.arange(len(self.texts)), np.diff(self.starts))

    @property
    def n_units(self) -> int:
        return len(self.texts)

    @property
    def n_positions(self) -> int:
        return int(self.starts[-1])

    @property
    def removable(self) -> np.ndarray:
        """The non-special units, in order: what methods perturb and metrics remove."""
        return np.flatnonzero(~self.special)

    def positions(self, unit: int) -> np.ndarray:
        return np.arange(self.starts[unit], self.starts[unit + 1])

    def expand(self, per_unit: np.ndarray) -> np.ndarray:
        """(..., n_units) values (a removal mask, a keep probability) -> (..., n_positions): each
        position takes its unit's value."""
        return np.asarray(per_unit)[..., self.unit_of]

    def aggregate(self, scores: np.ndarray, how: str = "sum") -> np.ndarray:
        """One score per unit from one per position (`UNIT_AGGREGATIONS`), along the last axis;
        a one-position unit keeps its position's score exactly."""
        if how not in UNIT_AGGREGATIONS:
            raise InputError(f"unit_aggregation={how!r} is not one of {', '.join(UNIT_AGGREGATIONS)}")
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape[-1:] != (self.n_positions,):
            raise ValueError(f"expected {self.n_positions} position scores, got shape {scores.shape}")
        first = self.starts[:-1]
        if how == "max":
            return np.maximum.reduceat(scores, first, axis=-1)
        total = np.add.reduceat(scores, first, axis=-1)
        return total / np.diff(self.starts) if how == "mean" else total

    def any_of(self, position_mask: np.ndarray) -> np.ndarray:
        """0/1 per unit: 1 when any of its positions is 1 (a human rationale given per token);
        special units are 0."""
        mask = np.maximum.reduceat(np.asarray(position_mask) != 0, self.starts[:-1])
        return (mask & ~self.special).astype(np.int8)


def token_units(tokens: list[str], special: np.ndarray) -> Units:
    """Every position its own unit: token granularity (and an image's patches)."""
    return Units(DEFAULT_GRANULARITY, np.arange(len(tokens) + 1), list(tokens), special)


def check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise InputError(f"granularity={granularity!r} is not one of {', '.join(GRANULARITIES)}")
    return granularity


def text_units(
    granularity: str,
    tokens: list[str],
    special: np.ndarray,
    text: str,
    offsets: list[tuple[int, int]] | None,
    word_ids: list[int | None] | None,
) -> Units:
    """The units of one tokenised text at `granularity` (see the module docstring).

    `offsets` are the tokens' character spans in `text`, `word_ids` the tokenizer's word index of
    each token (None when it gives none). Words need one of them and sentences the offsets; a
    tokenizer without them gets an InputError saying so."""
    check_granularity(granularity)
    special = np.asarray(special, dtype=bool)
    if granularity == "token":
        return token_units(tokens, special)
    if offsets is None and (granularity == "sentence" or word_ids is None):
        needs = "character offsets" if granularity == "sentence" else "word ids or character offsets"
        raise InputError(f"granularity={granularity!r} needs {needs}, which this tokenizer does not provide")
    new_word = _word_starts(special, text, offsets, word_ids)
    if granularity == "word":
        breaks = new_word
    else:
        sentence = np.searchsorted(sentence_starts(text), _first_characters(text, offsets), side="right")
        breaks = new_word & np.r_[True, sentence[1:] != sentence[:-1]]
    breaks |= special | np.r_[False, special[:-1]]
    breaks[0] = True
    starts = np.r_[np.flatnonzero(breaks), len(tokens)]
    texts = [
        tokens[a] if special[a] else _span_text(text, offsets, a, b, tokens)
        for a, b in zip(starts[:-1], starts[1:], strict=True)
    ]
    return Units(granularity, starts, texts, special[starts[:-1]])


def sentence_starts(text: str) -> np.ndarray:
    """The character index where each sentence of `text` starts (`SENTENCE_BREAK`), the first 0."""
    return np.array([0] + [match.end() for match in SENTENCE_BREAK.finditer(text)], dtype=np.int64)


def _word_starts(
    special: np.ndarray, text: str, offsets: list[tuple[int, int]] | None, word_ids: list[Any] | None
) -> np.ndarray:
    """Per position: whether a new word starts there (the tokenizer's word id changes, or
    whitespace precedes the token's first character)."""
    n = len(special)
    starts = np.zeros(n, dtype=bool)
    if word_ids is not None:
        ids = list(word_ids)[:n]
        starts[1:] = [ids[i] != ids[i - 1] for i in range(1, n)]
    if offsets is not None:
        previous_end = 0
        for i, (start, end) in enumerate(offsets[:n]):
            if end > start:
                gap = text[previous_end:start]
                starts[i] |= any(char.isspace() for char in gap) or text[start].isspace()
                previous_end = end
    return starts


def _first_characters(text: str, offsets: list[tuple[int, int]]) -> np.ndarray:
    """Per token, the index of its first non-space character (a byte-level token carries the
    space before its word, which belongs to the sentence before)."""
    return np.array(
        [start + len(text[start:end]) - len(text[start:end].lstrip()) for start, end in offsets],
        dtype=np.int64,
    )


def _span_text(text: str, offsets: list[tuple[int, int]] | None, a: int, b: int, tokens: list[str]) -> str:
    """The input's characters of positions a..b-1, stripped (the tokens joined without offsets)."""
    if offsets is None:
        return "".join(tokens[a:b])
    spans = [span for span in offsets[a:b] if span[1] > span[0]]
    if not spans:
        return "".join(tokens[a:b])
    piece = text[spans[0][0] : spans[-1][1]]
    return piece.strip() or piece
