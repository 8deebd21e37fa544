"""Per-example token heatmaps, every method side by side: HTML spans whose background is the
token's score (red supports the target, blue opposes it; each method scaled by its own largest
|score| on the example) and a PNG version (methods x tokens). Rationale tokens are underlined."""

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
LABELLED_TOKENS = 120
"""Up to this many tokens the PNG labels every token; beyond, every k-th."""
TOKEN_MARKERS = {"Ġ": " ", "▁": " ", "Ċ": "↵", "ĉ": "⇥"}
"""Byte-level BPE and sentencepiece markers shown as the characters they stand for."""


def readable(token: str) -> str:
    for marker, shown in TOKEN_MARKERS.items():
        token = token.replace(marker, shown)
    return token


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
    """One explanation's tokens as HTML spans coloured by score; `row` holds tokens, scores,
    special and rationale (None or a 0/1 mask), as a record or a plain dict."""
    rationale = row["rationale"] if row["rationale"] is not None else np.zeros(len(row["tokens"]), int)
    spans = []
    for token, value, special, gold in zip(
        row["tokens"], normalised(row), row["special"], rationale, strict=True
    ):
        classes = " ".join(c for c, on in (("special", special), ("gold", gold)) if on)
        spans.append(
            f'<span class="tok {classes}" style="background:{background(value)}" '
            f'title="{value:+.3f}">{html.escape(readable(token))}</span>'
        )
    return "".join(spans)


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
    """A (rows x tokens) colour matrix of normalised scores, labelled with the tokens (columns)
    and `labels` (rows)."""
    tokens = [readable(t) for t in tokens]
    figure = new_figure(min(3.0 + 0.11 * len(tokens), 30.0), 1.6 + 0.35 * len(labels))
    ax = figure.subplots()
    ax.imshow(matrix, cmap="bwr", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    step = max(1, int(np.ceil(len(tokens) / LABELLED_TOKENS)))
    ax.set_xticks(range(0, len(tokens), step), tokens[::step], rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_title(title, fontsize=9)
    return figure


def example_png(run: FinishedRun, example_id: str, out_dir: Path, stem: str) -> FigureFile:
    """The PNG version: a (methods x non-special tokens) colour matrix labelled with the tokens."""
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
