"""Rank agreement between methods: for each pair, the Spearman correlation of their scores on
the same example (explained positions, special tokens left out), averaged over the examples
both explained. Two methods near 1 rank tokens alike; near 0 they disagree."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning, spearmanr

from bench.report.figures import FigureFile, Skipped, new_figure, save
from bench.report.finished_run import FinishedRun


def _content_scores(row: pd.Series) -> np.ndarray:
    scores = np.asarray(row["scores"], dtype=np.float64)
    special = (
        np.asarray(row["special"], dtype=bool) if row["special"] is not None else np.zeros(len(scores), bool)
    )
    return scores[~special]


def agreement_matrix(run: FinishedRun) -> pd.DataFrame:
    """(methods x methods) mean Spearman rho; NaN where no example has two rankable score vectors."""
    methods = run.methods
    by_example: dict[str, dict[str, np.ndarray]] = {}
    for _, row in run.ok.iterrows():
        if row["scores"] is not None:
            by_example.setdefault(row["example_id"], {})[row["method"]] = _content_scores(row)
    matrix = pd.DataFrame(np.nan, index=methods, columns=methods)
    for i, a in enumerate(methods):
        for b in methods[i:]:
            rhos = []
            for scores in by_example.values():
                if a in scores and b in scores and len(scores[a]) == len(scores[b]) > 1:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConstantInputWarning)
                        rho = spearmanr(scores[a], scores[b]).statistic
                    if np.isfinite(rho):
                        rhos.append(rho)
            if rhos:
                matrix.loc[a, b] = matrix.loc[b, a] = float(np.mean(rhos))
    return matrix


def plot_agreement(run: FinishedRun, out_dir: Path) -> FigureFile | Skipped:
    title = "Rank agreement between methods"
    matrix = agreement_matrix(run)
    if len(matrix) < 2 or matrix.isna().all().all():
        return Skipped(title, "fewer than two methods with comparable scores")
    size = 1.5 + 0.6 * len(matrix)
    figure = new_figure(size + 1.2, size)
    ax = figure.subplots()
    image = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(matrix)), matrix.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
    figure.colorbar(image, ax=ax, label="mean Spearman ρ")
    caption = "Mean over examples of the Spearman correlation between two methods' token scores."
    return save(figure, out_dir, "agreement", title, caption)
