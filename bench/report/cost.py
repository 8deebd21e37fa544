"""Faithfulness against cost: per method, its mean deletion AUC (and insertion AUC) against its
mean seconds and peak memory per explanation, on log x axes. Methods in the lower left of the
deletion panels are cheap and faithful."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, plain_log_axis, save
from bench.report.finished_run import FinishedRun

PANEL = (4.6, 3.8)
MIB = 2**20
COSTS = (
    ("cost_seconds", 1.0, "seconds per explanation"),
    ("cost_peak_memory_bytes", MIB, "peak MiB per explanation (allocator; CPU: first example)"),
)
QUALITY = (("metric_deletion", "deletion AUC ↓"), ("metric_insertion", "insertion AUC ↑"))


def plot_cost(run: FinishedRun, out_dir: Path) -> FigureFile | Skipped:
    title = "Faithfulness vs cost"
    quality = [
        (column, label) for column, label in QUALITY if column in run.ok and run.ok[column].notna().any()
    ]
    if not quality:
        return Skipped(title, "the records hold neither deletion nor insertion AUCs")
    means = run.ok.groupby("method")[[c for c, _, _ in COSTS] + [c for c, _ in quality]].mean()
    colours = method_colours(run.methods)
    figure = new_figure(PANEL[0] * len(COSTS), PANEL[1] * len(quality))
    axes = figure.subplots(len(quality), len(COSTS), squeeze=False)
    notes = []
    for row_axes, (quality_column, quality_label) in zip(axes, quality, strict=True):
        for ax, (cost_column, unit, cost_label) in zip(row_axes, COSTS, strict=True):
            x = means[cost_column].to_numpy(dtype=float) / unit
            floor = np.nanmin(x[x > 0]) / 2 if np.any(x > 0) else 1e-3
            if np.any(x <= 0):
                notes.append(f"{cost_label}: values of 0 are drawn at {floor:.3g}")
            for method, value, y in zip(
                means.index, np.maximum(x, floor), means[quality_column], strict=True
            ):
                ax.scatter(value, y, color=colours.get(method, "grey"), s=40, zorder=3)
                ax.annotate(method, (value, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
            ax.set_xscale("log")
            plain_log_axis(ax.xaxis)
            ax.set_xlabel(cost_label)
            ax.set_ylabel(quality_label)
            ax.grid(alpha=0.3)
    caption = "Means over each method's examples; log x axes. " + "; ".join(sorted(set(notes)))
    return save(figure, out_dir, "cost", title, caption.strip())
