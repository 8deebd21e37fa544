"""`spam`: generated SMS-style spam/ham messages whose label is decided by planted cue words.

The benchmark's controlled ground truth. Both classes share every message frame, filler phrase,
name, time and distractor with the same probabilities; the ONLY thing that differs is the class
of the cue nouns slotted into shared cue frames ("dont forget the {cue}"). So the cue words are,
by construction, the complete evidence for the label, and the rationale is their character spans:
spam cues for spam messages, ham cues for ham messages (each message has 1-2 cues of its own
class and none of the other's).

Distractors (slang, made-up words, random codes) are planted in both classes alike and are
rarer than any cue, so a method that marks every rare or odd word scores poorly. Messages are a
pure function of (seed, split, index); train and test use different streams and sizes are fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import InputError
from bench.task import register_task
from bench.types import Example
from tasks._classifier import TextClassificationTask

HAM, SPAM = 0, 1
SPLIT_SIZES = {"train": 2000, "test": 500}
_SPLIT_STREAM = {"train": 1, "test": 2}

CUES = {
    SPAM: (
        "prize", "cash", "voucher", "jackpot", "reward", "bonus",
        "lottery", "ringtone", "loan", "giveaway", "refund", "coupon",
    ),
    HAM: (
        "lunch", "dinner", "homework", "mum", "movie", "gym",
        "class", "birthday", "coffee", "grandma", "laundry", "keys",
    ),
}  # fmt: skip
"""Cue nouns: ordinary words of the same part of speech, so either class fits every cue frame."""

CUE_FRAMES = (
    "dont forget the {cue}",
    "its about the {cue}",
    "any news on the {cue}",
    "the {cue} is ready",
    "did u see the {cue}",
    "ask me about the {cue}",
    "what about the {cue}",
    "re the {cue}",
)
FILLERS = (
    "got ur msg",
    "call me back",
    "text me",
    "on my way",
    "pls reply",
    "let me know",
    "just saw this",
    "no rush",
    "speak later",
    "thx",
    "see u soon",
    "ok",
)
MESSAGE_FRAMES = (
    ("hey {name}, ", ""),
    ("", " - {name}"),
    ("hi {name} ", ". see u at {time}"),
    ("", ". call me at {time}"),
    ("{name}! ", " x"),
    ("", ""),
)
"""(prefix, suffix) around the message body."""
NAMES = ("sam", "alex", "jo", "priya", "tom", "mia", "dev", "lena", "omar", "kate", "raj", "zoe")
TIMES = ("5", "6pm", "noon", "8", "half 7", "10ish", "9.30", "11")
DISTRACTORS = (
    "zxqv", "quokka", "brb", "xoxo", "ttyl", "gr8", "wkend", "zorp", "snazzle", "flumph", "kthx",
    "omw", "fyi", "tbh", "wubba", "plinth", "grok", "yolo", "meh", "bazinga", "qwop", "jib",
    "frobnicate", "lolz", "hmmm", "soz", "defo", "bruv", "wotevs", "innit",
)  # fmt: skip
"""Odd words planted in both classes alike (plus random codes such as 'k7q2')."""
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _distractor(rng: np.random.Generator) -> str:
    if rng.random() < 0.3:
        return "".join(rng.choice(list(_CODE_ALPHABET), size=4))
    return str(rng.choice(DISTRACTORS))


def generate(seed: int, split: str, index: int) -> Example:
    """Message `index` of `split` under `seed`: label alternates, everything else is drawn."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM[split], index])
    label = index % 2
    # body pieces: (text, cue span within text or None); shuffled so cues sit anywhere
    pieces: list[tuple[str, tuple[int, int] | None]] = []
    for _ in range(rng.integers(1, 3)):
        cue = str(rng.choice(CUES[label]))
        frame = str(rng.choice(CUE_FRAMES))
        start = frame.index("{cue}")
        pieces.append((frame.format(cue=cue), (start, start + len(cue))))
    pieces += [(str(filler), None) for filler in rng.choice(FILLERS, size=rng.integers(1, 3), replace=False)]
    if rng.random() < 0.7:
        pieces += [(_distractor(rng), None) for _ in range(rng.integers(1, 3))]
    pieces = [pieces[i] for i in rng.permutation(len(pieces))]
    prefix, suffix = MESSAGE_FRAMES[rng.integers(len(MESSAGE_FRAMES))]
    fields = {"name": str(rng.choice(NAMES)), "time": str(rng.choice(TIMES))}
    text = prefix.format(**fields)
    separator = str(rng.choice([", ", " ", ". "]))
    spans: list[tuple[int, int]] = []
    for i, (piece, cue_span) in enumerate(pieces):
        if i:
            text += separator
        if cue_span is not None:
            spans.append((len(text) + cue_span[0], len(text) + cue_span[1]))
        text += piece
    text += suffix.format(**fields)
    return Example(
        id=f"spam-{split}-{index}",
        inputs=text,
        target=label,
        rationale=spans,
        meta={"cues": [text[a:b] for a, b in spans], "seed": seed},
    )


@register_task("spam")
class Spam(TextClassificationTask):
    """Generated SMS spam/ham with planted cue words as ground truth (offline, no data files)."""

    name = "spam"
    has_rationale = True
    labels = ("ham", "spam")
    training = {"n_train": 1000, "epochs": 2, "max_length": 64}

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        if data is not None:
            raise InputError("task 'spam' generates its data; it takes no data path")
        if params:
            raise InputError(f"task 'spam' takes no parameters, got {', '.join(sorted(params))}")
        super().__init__(None, seed)

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        if split not in SPLIT_SIZES:
            raise InputError(f"task 'spam' has splits {', '.join(SPLIT_SIZES)}, not {split!r}")
        size = SPLIT_SIZES[split] if n is None else min(n, SPLIT_SIZES[split])
        return [generate(self.seed, split, i) for i in range(size)]
