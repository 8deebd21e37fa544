"""One explanation drawn as the report draws it (`xai-bench explain --html/--png`): its tokens
coloured by score (bench/report/heatmaps.py), or its patch scores over the image
(bench/report/patches.py). A per-token explanation of a generation adds a row per generated
token: a (generated tokens x prompt tokens) matrix, each row scaled by its own largest |score|."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bench.report import heatmaps, patches
from bench.report.figures import DPI, new_figure
from bench.types import Explanation


def score_rows(explanation: Explanation) -> list[tuple[str, dict]]:
    """(label, record) per drawn row: the whole target's scores, then one per target token."""
    record = {
        "tokens": explanation.tokens,
        "special": explanation.special_tokens,
        "rationale": None,
        "patch_grid": explanation.patch_grid,
    }
    rows = [(f"{explanation.method} (whole target)", {**record, "scores": explanation.scores})]
    if explanation.per_token_scores is not None:
        for t, (token, scores) in enumerate(
            zip(explanation.target_tokens, explanation.per_token_scores, strict=True)
        ):
            rows.append((f"{t}: {heatmaps.readable(token)}", {**record, "scores": scores}))
    return rows


TITLE_TARGET = 40
"""A generated target is cut to this many characters in titles."""


def title(explanation: Explanation) -> str:
    target = repr(explanation.target)
    if len(target) > TITLE_TARGET:
        target = target[: TITLE_TARGET - 1] + "…"
    return f"{explanation.method} · target {target}"


def figure(explanation: Explanation, image: np.ndarray | None = None) -> Figure:
    """Text: the (rows x non-special tokens) matrix; image: the image, then the overlay."""
    if explanation.patch_grid is not None:
        panels = 1 + (image is not None)
        drawn = new_figure(patches.PANEL * panels, patches.PANEL + 0.4)
        axes = np.atleast_1d(drawn.subplots(1, panels))
        if image is not None:
            axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None)
        patches.draw_overlay(axes[-1], patches.patch_scores(score_rows(explanation)[0][1]), image)
        axes[-1].set_title(title(explanation), fontsize=8)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        return drawn
    keep = ~np.asarray(explanation.special_tokens, dtype=bool)
    rows = score_rows(explanation)
    matrix = np.vstack([heatmaps.normalised(record)[keep] for _, record in rows])
    tokens = [token for token, kept in zip(explanation.tokens, keep, strict=True) if kept]
    return heatmaps.token_matrix_figure(matrix, tokens, [label for label, _ in rows], title(explanation))


def png(explanation: Explanation, image: np.ndarray | None = None) -> bytes:
    import matplotlib.pyplot as plt  # bench.report.figures chose the Agg backend

    drawn = figure(explanation, image)
    buffer = io.BytesIO()
    drawn.savefig(buffer, format="png", dpi=DPI)
    plt.close(drawn)
    return buffer.getvalue()


def write_png(explanation: Explanation, path: str | Path, image: np.ndarray | None = None) -> Path:
    Path(path).write_bytes(png(explanation, image))
    return Path(path)


def write_html(explanation: Explanation, path: str | Path, image: np.ndarray | None = None) -> Path:
    """A self-contained page: the token heatmap (a row per generated token with `per_token`), or
    the image overlay as an embedded PNG."""
    from bench.report.page import STYLE

    if explanation.patch_grid is not None:
        data = base64.b64encode(png(explanation, image)).decode()
        body = f'<figure><img alt="patch scores" src="data:image/png;base64,{data}"></figure>'
    else:
        cells = [
            f'<tr><th>{html.escape(label)}</th><td class="tokens">{heatmaps.token_spans(record)}</td></tr>'
            for label, record in score_rows(explanation)
        ]
        body = '<table class="heatmap">' + "".join(cells) + "</table>"
    legend = (
        "Red supports the target, blue opposes it; each row is scaled by its own largest |score| "
        "(hover a token for its scaled score)."
    )
    heading = html.escape(title(explanation))
    page = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{heading}</title>'
        f"<style>{STYLE}</style></head>\n<body>\n<h2>{heading}</h2>\n{body}\n"
        f'<p class="note">{html.escape(legend)}</p>\n</body></html>\n'
    )
    Path(path).write_text(page, encoding="utf-8")
    return Path(path)
