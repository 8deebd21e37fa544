"""Deletion and insertion curves as small multiples: one panel per method (its mean curve with a
95% bootstrap CI band), ordered by mean AUC, best first, with random and the best method drawn
faintly in every panel, so each method is read against the floor and the top without fourteen
overlapping bands.

Examples have different lengths, so each recorded curve (y at x = k/N) is interpolated onto
one common grid of x before averaging; the AUC that orders the panels is the metric's own (the
trapezoid over the recorded x = k/N, averaged over examples)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.stats import bootstrap

from bench.protocol import metric_of
from bench.report.figures import FigureFile, Skipped, new_figure, save
from bench.report.finished_run import FinishedRun

GRID = np.linspace(0.0, 1.0, 51)
COLUMNS = 5
PANEL = (2.4, 2.0)
LEGEND_HEIGHT = 0.5
REFERENCE = "random"
MAIN = "tab:blue"
"""Every panel's own curve, in one strong colour: the panel's title names the method."""
REFERENCE_STYLES = {
    "best": {"color": "black", "linestyle": ":"},
    "random": {"color": "grey", "linestyle": "--"},
}
AXIS_LABELS = {
    "deletion": "fraction of tokens removed (highest scores first)",
    "insertion": "fraction of tokens inserted (highest scores first)",
}


def on_grid(curve: np.ndarray) -> np.ndarray:
    """A curve recorded at x = k/N (N + 1 points) as y values on GRID."""
    curve = np.asarray(curve, dtype=np.float64)
    return np.interp(GRID, np.linspace(0.0, 1.0, len(curve)), curve)


def area(curve: np.ndarray) -> float:
    """The area under a curve recorded at x = k/N: the deletion and insertion metrics' own AUC."""
    return float(np.trapezoid(curve, np.linspace(0.0, 1.0, len(curve))))


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


def recorded_curves(run: FinishedRun, curve: str) -> dict[str, list[np.ndarray]]:
    """Each method's recorded curves (one per example) for one curve; methods without it left out."""
    column = f"curve_{curve}"
    if column not in run.ok:
        return {}
    found = {}
    for method in run.methods:
        rows = run.ok.loc[run.ok["method"] == method, column]
        usable = [np.asarray(c, dtype=np.float64) for c in rows if c is not None and len(c) > 1]
        usable = [c for c in usable if np.all(np.isfinite(c))]
        if usable:
            found[method] = usable
    return found


def ranked_by_area(curves: dict[str, list[np.ndarray]], curve: str) -> list[tuple[str, float]]:
    """(method, mean AUC), best first: lowest for deletion, highest for insertion (ties keep
    the config order)."""
    areas = [(method, float(np.mean([area(c) for c in found]))) for method, found in curves.items()]
    sign = -1.0 if metric_of(curve).higher_is_better else 1.0
    return sorted(areas, key=lambda item: sign * item[1])


def curve_figure(run: FinishedRun, curve: str) -> tuple[Figure, dict[str, str]] | None:
    """The small multiples of one curve and its faint references ({"best": method, "random":
    "random"} when random ran); None when no method has the curve."""
    curves = recorded_curves(run, curve)
    if not curves:
        return None
    ranked = ranked_by_area(curves, curve)
    best = ranked[0][0]
    means = {
        method: mean_band(np.vstack([on_grid(c) for c in found]), run.seed)
        for method, found in curves.items()
    }
    references = {"best": best, "random": REFERENCE} if REFERENCE in curves else {"best": best}
    columns = min(COLUMNS, len(ranked))
    rows = math.ceil(len(ranked) / columns)
    figure = new_figure(PANEL[0] * columns, PANEL[1] * rows + LEGEND_HEIGHT)
    grid = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for ax in grid[len(ranked) :]:
        ax.remove()
    for i, (ax, (method, auc)) in enumerate(zip(grid, ranked, strict=False)):
        for role, reference in references.items():
            if reference != method:
                ax.plot(GRID, means[reference][0], linewidth=1.0, alpha=0.6, **REFERENCE_STYLES[role])
        mean, low, high = means[method]
        ax.fill_between(GRID, low, high, color=MAIN, alpha=0.25, linewidth=0)
        ax.plot(GRID, mean, color=MAIN, linewidth=2.0)
        mark = " (best)" if method == best else ""
        ax.set_title(f"{method}{mark}\nAUC {auc:.3f} · n={len(curves[method])}", fontsize=8)
        ax.tick_params(labelsize=7, labelbottom=i + columns >= len(ranked))  # the lowest panel of a column
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], linewidth=1.0, **REFERENCE_STYLES[role]) for role in references]
    labels = [f"best ({best})" if role == "best" else "random" for role in references]
    figure.legend(handles, labels, loc="outside upper center", ncols=len(handles), fontsize=8, frameon=False)
    figure.supxlabel(AXIS_LABELS[curve], fontsize=9)
    figure.supylabel("target score (probability; log-prob for causal LMs)", fontsize=9)
    return figure, references


def plot_curves(run: FinishedRun, out_dir: Path, curve: str) -> FigureFile | Skipped:
    title = f"{curve.capitalize()} curves"
    drawn = curve_figure(run, curve)
    if drawn is None:
        return Skipped(title, f"the records hold no {curve} curves")
    figure, references = drawn
    better = "higher" if metric_of(curve).higher_is_better else "lower"
    faint = [f"the best method ({references['best']}, dotted black)"]
    faint += ["random (dashed grey)"] if "random" in references else []
    caption = (
        f"One panel per method, ordered by mean AUC ({better} is better), best first: the mean curve over "
        f"the examples with its pointwise 95% bootstrap band. Drawn faintly in every panel: "
        f"{' and '.join(faint)}."
    )
    return save(figure, out_dir, f"curves_{curve}", title, caption)
