"""Critical-difference diagrams (Demsar 2006, JMLR 7:1-30, Fig. 1-2 layout): an axis of average
ranks (1 = best, at the left), each method hanging from its average rank to its name (the better
half to the left, the worse half to the right) and thick bars joining the methods that the paired
tests do not separate (`bench.ranking`: Friedman, then Wilcoxon with Holm's correction, as
Benavoli et al. 2016 recommend, not Demsar's Nemenyi CD). One diagram per scope (all tasks, then
each task) and per family's headline metric, captioned with the verdict and the power estimate.

The layout is a port of Orange's `graph_ranks` (biolab/orange3 `Orange/evaluation/scoring.py`,
as adapted in hfawaz/cd-diagram `main.py`): drawn in inches on one axes-free canvas, ticks every
half rank, labels in rows that widen outwards so the lines never cross, bars for the longest runs
not separated. Differences: each method's line takes its colour from the other figures (names
stay black: tab20 is pale), the average rank is printed beside the name, the canvas is sized
from the longest label instead of a fixed text space, and the bars stack from the axis down
without Orange's restart at the right half.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from bench.errors import InputError
from bench.protocol import metric_of
from bench.ranking import (
    ALPHA,
    NOTE,
    Ranking,
    headline_metrics,
    power_line,
    rank_methods,
    ranking_lines,
    scopes,
    verdict,
)
from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, save
from bench.report.finished_run import FinishedRun

TITLE = "Critical-difference diagrams"
FONT = 9
CHAR_WIDTH = 0.075
"""Inches per label character at FONT points (a generous average for sans-serif)."""
AXIS_Y = 0.65
ROW = 0.22
BAR_GAP = 0.1
BAR_WIDTH = 4.0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def draw_critical_difference(ranking: Ranking, colours: dict[str, tuple]) -> Figure:
    """The diagram of one ranking; clique bars carry gid 'clique', method labels gid 'method' and
    the line hanging from a method's average rank gid 'rank:METHOD'."""
    ranks = ranking.average_ranks
    k = len(ranks)
    labels = [f"{method}  {rank:.2f}" for method, rank in ranks.items()]
    arrow = "↑" if metric_of(ranking.metric).higher_is_better else "↓"
    friedman = "" if math.isnan(ranking.friedman_p) else f" · Friedman p = {ranking.friedman_p:.2g}"
    title = f"{ranking.metric} {arrow} {ranking.scope} · {ranking.n} examples{friedman}"
    textspace = 0.3 + CHAR_WIDTH * max(len(label) for label in labels)
    scalewidth = max(3.0, 0.4 * (k - 1))
    width = max(2 * textspace + scalewidth, 0.2 + CHAR_WIDTH * len(title))
    textspace = (width - scalewidth) / 2
    cliques = ranking.cliques
    first_row = AXIS_Y + 0.15 + BAR_GAP * len(cliques) + 0.15
    half = math.ceil(k / 2)
    height = first_row + (half - 1) * ROW + 0.25

    def position(rank: float) -> float:
        return textspace + scalewidth * (rank - 1) / max(k - 1, 1)

    figure = new_figure(width, height)
    figure.set_layout_engine("none")  # one axes over the whole canvas, coordinates in inches
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    ax.text(0.1, 0.2, title, fontsize=FONT, va="center")
    ax.plot([position(1), position(k)], [AXIS_Y, AXIS_Y], color="black", linewidth=1.5)
    for step in range(2 * (k - 1) + 1):
        rank = 1 + step / 2
        tick = 0.1 if step % 2 == 0 else 0.05
        ax.plot([position(rank)] * 2, [AXIS_Y - tick, AXIS_Y], color="black", linewidth=1.5)
        if step % 2 == 0:
            ax.text(position(rank), AXIS_Y - 0.13, str(int(rank)), ha="center", va="bottom", fontsize=FONT)
    for i, (method, rank) in enumerate(ranks.items()):
        left = i < half
        y = first_row + (i if left else k - 1 - i) * ROW
        end = textspace - 0.1 if left else textspace + scalewidth + 0.1
        colour = colours.get(method, "grey")
        ax.plot(
            [position(rank), position(rank), end],
            [AXIS_Y, y, y],
            color=colour,
            linewidth=1.2,
            gid=f"rank:{method}",
        )
        ax.text(end + (-0.05 if left else 0.05), y, labels[i] if left else f"{rank:.2f}  {method}",
                ha="right" if left else "left", va="center", fontsize=FONT, gid="method")  # fmt: skip
    for j, clique in enumerate(cliques):
        y = AXIS_Y + 0.15 + BAR_GAP * j
        x = [position(ranks[clique[0]]) - 0.05, position(ranks[clique[-1]]) + 0.05]
        ax.plot(x, [y, y], color="black", linewidth=BAR_WIDTH, solid_capstyle="butt", gid="clique")
    return figure


def caption(ranking: Ranking, family: str) -> str:
    notes = [f"{verdict(ranking, family)}.", f"{power_line(ranking)}."]
    notes.append(
        f"Axis: average rank over the {ranking.n} examples (1 = best, ties averaged). Bars join methods "
        f"no paired Wilcoxon test separates (Holm-corrected, p >= {ALPHA}; none is separated when the "
        f"Friedman test gives p >= {ALPHA})."
    )
    if ranking.unscored_tasks:
        notes.append(f"{ranking.metric} has no values on {', '.join(ranking.unscored_tasks)}.")
    if ranking.left_out:
        notes.append("Not ranked: " + "; ".join(f"{m} ({why})" for m, why in ranking.left_out.items()) + ".")
    if ranking.dropped_blocks:
        count = ranking.dropped_blocks
        notes.append(f"{count} example{'s' if count > 1 else ''} where some method has no value left out.")
    return " ".join(notes)


def _keys(run: FinishedRun) -> list[str]:
    return list(pd.unique(run.summary["metric"]))


def plot_critical_difference(run: FinishedRun, out_dir: Path) -> list[FigureFile | Skipped]:
    """One diagram per (scope, family headline metric), the scope of all tasks first."""
    headline = headline_metrics(_keys(run))
    if not headline or run.ok.empty:
        return [Skipped(TITLE, "the run has no quality metric to rank")]
    colours = method_colours(run.methods)
    items: list[FigureFile | Skipped] = []
    for scope, rows in scopes(run.ok):
        for family, metric in headline.items():
            title = f"Critical difference: {family} ({metric}) {scope}"
            try:
                ranking = rank_methods(rows, metric, scope)
            except InputError as error:
                items.append(Skipped(title, str(error)))
                continue
            figure = draw_critical_difference(ranking, colours)
            stem = f"cd_{_slug(metric)}_{_slug(scope)}"
            items.append(save(figure, out_dir, stem, title, caption(ranking, family)))
    return items


def ranking_notes(run: FinishedRun) -> list[str]:
    """The paragraphs above the diagrams: what the verdicts mean, then per family the verdict and
    power line over all of the run's tasks (`bench.ranking`); none when nothing is ranked."""
    lines = ranking_lines(run.records, _keys(run))
    return [NOTE, *lines] if lines else []
