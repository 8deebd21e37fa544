"""Mean deletion and insertion curves per method with 95% bootstrap CI bands.

Examples have different lengths, so each recorded curve (y at x = k/N) is interpolated onto
one common grid of x before averaging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import bootstrap

from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, save
from bench.report.finished_run import FinishedRun

GRID = np.linspace(0.0, 1.0, 51)
SIZE = (11.0, 4.0)

PLOTTED = ("deletion", "insertion")


def on_grid(curve: np.ndarray) -> np.ndarray:
    """A curve recorded at x = k/N (N + 1 points) as y values on GRID."""
    curve = np.asarray(curve, dtype=np.float64)
    return np.interp(GRID, np.linspace(0.0, 1.0, len(curve)), curve)


def mean_band(curves: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean curve and the pointwise 95% percentile-bootstrap band over examples (rows)."""
    mean = curves.mean(axis=0)
    if len(curves) < 2:
        return mean, mean, mean
    result = bootstrap(
        (curves,), np.mean, axis=0, confidence_level=0.95, method="percentile", n_resamples=1000, rng=seed
    )
    interval = result.confidence_interval  # NaN where every resample agrees: the band is the mean
    return (
        mean,
        np.where(np.isnan(interval.low), mean, interval.low),
        np.where(np.isnan(interval.high), mean, interval.high),
    )


def method_curves(run: FinishedRun, curve: str) -> dict[str, np.ndarray]:
    """(examples x GRID) per method for one curve column; methods without the curve left out."""
    column = f"curve_{curve}"
    if column not in run.ok:
        return {}
    found = {}
    for method in run.methods:
        rows = run.ok.loc[run.ok["method"] == method, column]
        stacked = [on_grid(c) for c in rows if c is not None and len(c) > 1 and np.all(np.isfinite(c))]
        if stacked:
            found[method] = np.vstack(stacked)
    return found


def plot_curves(run: FinishedRun, out_dir: Path) -> FigureFile | Skipped:
    title = "Deletion and insertion curves"
    per_curve = {curve: method_curves(run, curve) for curve in PLOTTED}
    if not any(per_curve.values()):
        return Skipped(title, "the records hold no deletion or insertion curves")
    colours = method_colours(run.methods)
    figure = new_figure(*SIZE)
    axes = figure.subplots(1, len(PLOTTED), sharey=True)
    for ax, curve in zip(axes, PLOTTED, strict=True):
        for method, curves in per_curve[curve].items():
            mean, low, high = mean_band(curves, run.seed)
            ax.plot(GRID, mean, color=colours[method], label=f"{method} (n={len(curves)})")
            ax.fill_between(GRID, low, high, color=colours[method], alpha=0.2, linewidth=0)
        ax.set_title(f"{curve} ({'lower' if curve == 'deletion' else 'higher'} area is better)")
        ax.set_xlabel(f"fraction of tokens {'removed' if curve == 'deletion' else 'inserted'} (by score)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("target score (probability; log-prob for causal LMs)")
    axes[-1].legend(fontsize="small", loc="best")
    caption = "Mean curve per method over the examples; bands are pointwise 95% bootstrap CIs."
    return save(figure, out_dir, "curves", title, caption)
