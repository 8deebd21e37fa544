"""How each method's rank moves between evaluation protocols (`bench/protocols/`): per
protocol-governed metric the run recorded under two or more protocols, one panel of rank lines
(rank by mean, 1 = best). Crossing lines mean a verdict depends on whose definition is used."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.protocol import is_registered, metric_of, split_key
from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, rank_slopes, save
from bench.report.finished_run import FinishedRun

PANEL = (3.8, 4.0)


def ranks_by_protocol(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """{metric: (method x protocol) rank by mean} for metrics summarised under >= 2 protocols."""
    rows = summary[summary["metric"].map(is_registered).astype(bool)].copy()
    if rows.empty:
        return {}
    rows[["base", "protocol"]] = pd.DataFrame(rows["metric"].map(split_key).tolist(), index=rows.index)
    ranks = {}
    for base, group in rows.groupby("base", sort=False):
        if group["protocol"].nunique() < 2:
            continue
        means = group.pivot_table(index="method", columns="protocol", values="mean", sort=False)
        ascending = not metric_of(base).higher_is_better
        ranks[base] = means.rank(ascending=ascending, method="min").astype("Int64")
    return ranks


def plot_protocols(run: FinishedRun, out_dir: Path) -> FigureFile | Skipped:
    title = "Sensitivity of the ranking to the evaluation protocol"
    ranks = ranks_by_protocol(run.summary)
    if not ranks:
        return Skipped(
            title, "the run was scored under one protocol; compare with --protocol xai-bench,eraser"
        )
    figure = new_figure(PANEL[0] * len(ranks), PANEL[1])
    axes = figure.subplots(1, len(ranks), squeeze=False)[0]
    colours = method_colours(run.methods)
    captions = []
    for ax, (metric, table) in zip(axes, ranks.items(), strict=True):
        captions.append(f"{metric}: {rank_slopes(ax, table, colours, 'protocol', 'rank by mean (1 = best)')}")
        ax.set_title(metric)
    return save(figure, out_dir, "protocols", title, "; ".join(captions))
