"""Bar charts of the summary: one panel per metric, bars = mean, whiskers = 95% CI, and the
significance marks of summary.csv: '#rank' above each bar, '=' when the paired tests cannot
separate it from some other method, '*' on a method significantly better than every other."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.protocol import is_registered, metric_of
from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, save
from bench.report.finished_run import FinishedRun
from bench.stats import rank_label

PANEL = (3.6, 3.4)
COLUMNS = 4
"""Panels per row: with many metrics, rows of four instead of one row too wide to read."""
FAMILY_TITLES = {"faithfulness": "Faithfulness (AUC and friends)", "plausibility": "Plausibility"}


def significance_mark(row: pd.Series) -> str:
    """'#rank', plus '=' if tied with another method, or '*' for a rank-1 method tied with none."""
    if row["rank"] == 1 and not row["tied_with"]:
        return "#1*"
    return rank_label(row)


def family_metrics(summary: pd.DataFrame, family: str) -> list[str]:
    present = list(dict.fromkeys(summary["metric"]))
    return [m for m in present if is_registered(m) and metric_of(m).family == family]


def _panel(ax, rows: pd.DataFrame, methods: list[str], colours: dict, metric: str) -> None:
    rows = rows.set_index("method").reindex([m for m in methods if m in set(rows["method"])])
    x = np.arange(len(rows))
    means = rows["mean"].to_numpy(dtype=float)
    low = np.nan_to_num(means - rows["ci_low"].to_numpy(dtype=float), nan=0.0).clip(min=0)
    high = np.nan_to_num(rows["ci_high"].to_numpy(dtype=float) - means, nan=0.0).clip(min=0)
    ax.bar(x, means, yerr=[low, high], capsize=3, color=[colours[m] for m in rows.index])
    for i, (_, row) in enumerate(rows.reset_index().iterrows()):
        top = means[i] + high[i] if means[i] >= 0 else means[i] - low[i]
        ax.annotate(
            significance_mark(row),
            (x[i], top),
            textcoords="offset points",
            xytext=(0, 3 if means[i] >= 0 else -10),
            ha="center",
            fontsize=7,
        )
    arrow = "↑" if metric_of(metric).higher_is_better else "↓"
    ax.set_title(f"{metric} {arrow}")
    ax.set_xticks(x, rows.index, rotation=45, ha="right", fontsize=8)
    ax.margins(y=0.15)
    ax.grid(axis="y", alpha=0.3)


def plot_bars(run: FinishedRun, out_dir: Path, family: str) -> FigureFile | Skipped:
    title = FAMILY_TITLES[family]
    metrics = family_metrics(run.summary, family)
    if not metrics:
        return Skipped(title, f"the summary has no {family} metrics")
    colours = method_colours(run.methods)
    groups = list(run.summary.groupby(["task", "model"], sort=True))
    columns = min(COLUMNS, len(metrics))
    rows = math.ceil(len(metrics) / columns)  # per (task, model)
    figure = new_figure(PANEL[0] * columns, PANEL[1] * rows * len(groups))
    grid = figure.subplots(rows * len(groups), columns, squeeze=False)
    for i, ((task, model), group) in enumerate(groups):
        block = grid[i * rows : (i + 1) * rows]
        for ax, metric in zip(block.ravel(), metrics, strict=False):
            _panel(ax, group[group["metric"] == metric], run.methods, colours, metric)
        for ax in block.ravel()[len(metrics) :]:
            ax.remove()
        for row_axes in block:
            row_axes[0].set_ylabel(f"{task} / {model}", fontsize=8)
    caption = (
        "Bars: mean over examples; whiskers: 95% bootstrap CI. Marks: #rank (1 + methods significantly "
        "better, paired Wilcoxon with Holm correction); '=' tied with another method; '*' significantly "
        "better than every other method."
    )
    return save(figure, out_dir, f"bars_{family}", title, caption)
