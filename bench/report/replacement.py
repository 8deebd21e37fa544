"""How the faithfulness ranking depends on what replaces deleted tokens (mask, pad, unk, delete;
images black, zero, mean, blur): the methods' ranks by mean deletion AUC under each replacement found
in the records. Crossing lines mean the ranking is an artefact of the replacement choice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau

from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, save
from bench.report.finished_run import FinishedRun

COLUMN = "metric_deletion"


def ranks_by_replacement(records: pd.DataFrame) -> pd.DataFrame:
    """(method x replacement) rank by mean deletion AUC (1 = lowest, the most faithful)."""
    means = records.groupby(["replacement", "method"])[COLUMN].mean().unstack("replacement")
    return means.rank(method="min").astype("Int64")


def plot_replacement(run: FinishedRun, out_dir: Path) -> FigureFile | Skipped:
    title = "Sensitivity of the ranking to the deletion replacement"
    replacements = sorted(run.ok["replacement"].dropna().unique())
    if len(replacements) < 2 or COLUMN not in run.ok:
        found = ", ".join(replacements) or "none"
        return Skipped(
            title,
            f"the records hold one replacement only ({found}); run again with another "
            "--replacement into a separate folder to compare",
        )
    ranks = ranks_by_replacement(run.ok)
    colours = method_colours(run.methods)
    figure = new_figure(2.0 + 1.4 * len(replacements), 4.0)
    ax = figure.subplots()
    for method, row in ranks.iterrows():
        ax.plot(range(len(row)), row.to_numpy(dtype=float), marker="o", color=colours.get(method, "grey"))
        ax.annotate(
            method,
            (len(row) - 1, float(row.iloc[-1])),
            textcoords="offset points",
            xytext=(6, -3),
            fontsize=7,
        )
    ax.set_xticks(range(len(ranks.columns)), ranks.columns)
    ax.set_xlabel("replacement")
    ax.set_ylabel("rank by mean deletion AUC (1 = best)")
    ax.invert_yaxis()
    ax.grid(alpha=0.3)
    first = ranks.iloc[:, 0].to_numpy(dtype=float)
    taus = [
        f"{c}: {kendalltau(first, ranks[c].to_numpy(dtype=float)).statistic:.2f}" for c in ranks.columns[1:]
    ]
    caption = f"Kendall τ of each ranking with the {ranks.columns[0]} ranking: " + ", ".join(taus)
    return save(figure, out_dir, "replacement", title, caption)
