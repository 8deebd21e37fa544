"""Per-example token heatmaps, every method side by side: HTML spans whose background is the
token's score (red supports the target, blue opposes it; each method scaled by its own largest
|score| on the example) and a PNG version (methods x tokens). Rationale tokens are underlined.

Scores are per word piece (until word granularity exists), but a text of pieces is hard to read,
so the pieces of one word are drawn joined: a WordPiece continuation ("##x") attached to the piece
before it without its "##", behind a thin separator; with byte-level BPE or sentencepiece, a piece
that starts with the space marker (Ġ, ▁) starts a new word and any other piece continues one."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.report.figures import FigureFile, new_figure, save
from bench.report.finished_run import FinishedRun

POSITIVE = (214, 39, 40)
NEGATIVE = (31, 119, 180)
LABELLED_WORDS = 120
"""Up to this many words the PNG labels every word; beyond, every k-th."""
CONTINUATION = "##"
"""WordPiece's mark of a piece that continues the word before it."""
SPACE_MARKERS = ("Ġ", "▁")
"""Byte-level BPE's and sentencepiece's mark of a piece that starts a new word."""
TOKEN_MARKERS = {"Ġ": " ", "▁": " ", "Ċ": "↵", "ĉ": "⇥"}
"""Byte-level BPE and sentencepiece markers shown as the characters they stand for."""


def readable(token: str) -> str:
    for marker, shown in TOKEN_MARKERS.items():
        token = token.replace(marker, shown)
    return token


def joined_pieces(tokens: Sequence[str], special: Sequence[bool]) -> list[tuple[str, bool]]:
    """Each token as (text to show, starts a word): special tokens stand alone; "##x" continues
    the word before it and shows "x"; when any piece carries a space marker, exactly the marked
    pieces start words (the marker dropped)."""
    marked = any(t.startswith(SPACE_MARKERS) for t, s in zip(tokens, special, strict=True) if not s)
    joined = []
    after_special = True
    for token, is_special in zip(tokens, special, strict=True):
        if is_special:
            joined.append((token, True))
            after_special = True
            continue
        if token.startswith(CONTINUATION) and len(token) > len(CONTINUATION):
            text, starts = token[len(CONTINUATION) :], False
        elif marked:
            starts = token.startswith(SPACE_MARKERS)
            text = token[1:] if starts else token
        else:
            text, starts = token, True
        joined.append((readable(text) or "␣", starts or after_special))
        after_special = False
    return joined


def first_examples(run: FinishedRun, limit: int) -> list[str]:
    """The first `limit` example ids in record order."""
    return list(dict.fromkeys(run.ok["example_id"]))[:limit]


def normalised(row: Mapping) -> np.ndarray:
    """Scores divided by the largest |score| over non-special positions (0 where all are 0)."""
    scores = np.nan_to_num(np.asarray(row["scores"], dtype=np.float64))
    special = np.asarray(row["special"], dtype=bool)
    peak = np.abs(scores[~special]).max(initial=0.0)
    return np.where(special, 0.0, scores / peak if peak > 0 else 0.0)


def background(value: float) -> str:
    red, green, blue = POSITIVE if value >= 0 else NEGATIVE
    return f"rgba({red},{green},{blue},{min(abs(value), 1.0):.2f})"


def example_rows(run: FinishedRun, example_id: str) -> pd.DataFrame:
    rows = run.ok[run.ok["example_id"] == example_id].set_index("method")
    return rows.reindex([m for m in run.methods if m in rows.index])


def token_spans(row: Mapping) -> str:
    """One explanation's tokens as HTML spans coloured by score, the pieces of a word inside one
    unbreakable span; `row` holds tokens, scores, special and rationale (None or a 0/1 mask), as
    a record or a plain dict."""
    rationale = row["rationale"] if row["rationale"] is not None else np.zeros(len(row["tokens"]), int)
    words: list[list[str]] = []
    for (text, starts), value, special, gold in zip(
        joined_pieces(row["tokens"], row["special"]), normalised(row), row["special"], rationale, strict=True
    ):
        classes = " ".join(c for c, on in (("special", special), ("gold", gold), ("piece", not starts)) if on)
        span = (
            f'<span class="tok {classes}" style="background:{background(value)}" '
            f'title="{value:+.3f}">{html.escape(text)}</span>'
        )
        if starts or not words:
            words.append([])
        words[-1].append(span)
    return " ".join(f'<span class="word">{"".join(word)}</span>' for word in words)


def example_html(run: FinishedRun, example_id: str) -> str:
    """One example as a table: a row per method, its tokens coloured by score."""
    rows = example_rows(run, example_id)
    target = html.escape(str(rows.iloc[0]["target"]))
    lines = [
        f'<div class="example"><h4>{html.escape(example_id)} · target {target}</h4>',
        '<table class="heatmap">',
    ]
    for method, row in rows.iterrows():
        lines.append(f'<tr><th>{html.escape(method)}</th><td class="tokens">{token_spans(row)}</td></tr>')
    lines += ["</table></div>"]
    return "\n".join(lines)


def token_matrix_figure(
    matrix: np.ndarray, tokens: Sequence[str], labels: Sequence[str], title: str
) -> Figure:
    """A (rows x tokens) colour matrix of normalised scores, `tokens` (non-special) joined into
    words: white lines between words, thin dark ones between the pieces of a word, each word
    labelled once; `labels` name the rows."""
    pieces = joined_pieces(tokens, [False] * len(tokens))
    starts = [i for i, (_, start) in enumerate(pieces) if start or i == 0]
    words = list(zip(starts, [*starts[1:], len(pieces)], strict=True))
    figure = new_figure(min(max(2.5 + 0.22 * len(pieces), 6.0), 30.0), 1.4 + 0.26 * len(labels))
    ax = figure.subplots()
    ax.imshow(matrix, cmap="bwr", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    for begin, end in words:
        if begin > 0:
            ax.axvline(begin - 0.5, color="white", linewidth=2.0)
        for inside in range(begin + 1, end):
            ax.axvline(inside - 0.5, color="black", linewidth=0.5, alpha=0.4)
    labelled = words[:: max(1, int(np.ceil(len(words) / LABELLED_WORDS)))]
    ax.set_xticks(
        [(begin + end - 1) / 2 for begin, end in labelled],
        ["".join(text for text, _ in pieces[begin:end]) for begin, end in labelled],
        rotation=90,
        fontsize=7,
    )
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(title, fontsize=9)
    return figure


def example_png(run: FinishedRun, example_id: str, out_dir: Path, stem: str) -> FigureFile:
    """The PNG version: a (methods x non-special tokens) colour matrix labelled with the words."""
    rows = example_rows(run, example_id)
    special = np.asarray(rows.iloc[0]["special"], dtype=bool)
    tokens = [t for t, s in zip(rows.iloc[0]["tokens"], special, strict=True) if not s]
    matrix = np.vstack(
        [normalised(row)[~np.asarray(row["special"], dtype=bool)] for _, row in rows.iterrows()]
    )
    title = f"{example_id} (target {rows.iloc[0]['target']})"
    return save(
        token_matrix_figure(matrix, tokens, list(rows.index), title), out_dir, stem, example_id, pdf=False
    )
