"""How the faithfulness ranking depends on what replaces deleted tokens (mask, pad, unk, delete;
images black, zero, mean, blur): the methods' ranks by mean deletion AUC under each replacement found
in the records. Crossing lines mean the ranking is an artefact of the replacement choice."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report.figures import FigureFile, Skipped, method_colours, new_figure, rank_slopes, save
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
    figure = new_figure(2.0 + 1.4 * len(replacements), 4.0)
    colours = method_colours(run.methods)
    ylabel = "rank by mean deletion AUC (1 = best)"
    caption = rank_slopes(figure.subplots(), ranks, colours, "replacement", ylabel)
    return save(figure, out_dir, "replacement", title, caption)
