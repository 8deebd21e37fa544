"""What every figure shares: the Agg backend, one colour per method across all figures, the
rank slope chart, and saving each figure as PNG (for the page) and PDF (for papers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # user text ($5 prizes, ids) is drawn as written
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

DPI = 100


@dataclass
class FigureFile:
    """A written figure: its PNG (the page embeds it) and PDF, with a caption for the page."""

    title: str
    png: Path
    pdf: Path | None
    caption: str = ""


@dataclass
class Skipped:
    """A figure that does not apply to this run, with the reason shown on the page."""

    title: str
    reason: str


def method_colours(methods: Sequence[str]) -> dict[str, tuple]:
    """A stable colour per method (tab10, then tab20 for many methods)."""
    cmap = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    return {method: cmap(i % cmap.N) for i, method in enumerate(methods)}


def plain_log_axis(axis) -> None:
    """A log axis labelled 0.001, 0.1, 10: matplotlib's own log labels are mathtext, which the
    parse_math setting above would print as raw '$\\mathdefault{10^{-3}}$'."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def new_figure(width: float, height: float) -> Figure:
    return plt.figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(
    figure: Figure, out_dir: Path, stem: str, title: str, caption: str = "", pdf: bool = True
) -> FigureFile:
    """Write `stem`.png (and .pdf) into out_dir and close the figure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{stem}.png"
    figure.savefig(png, dpi=DPI)
    pdf_path = None
    if pdf:
        pdf_path = out_dir / f"{stem}.pdf"
        figure.savefig(pdf_path)
    plt.close(figure)
    return FigureFile(title, png, pdf_path, caption)


def rank_slopes(ax, ranks: pd.DataFrame, colours: dict, xlabel: str, ylabel: str) -> str:
    """Draw a (method x condition) rank table as one line per method across the conditions
    (crossing lines: the ranking depends on the condition); returns a caption with Kendall's
    tau of each condition's ranking against the first one's."""
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
    ax.set_xlim(-0.3, len(ranks.columns) - 0.2)  # room for the method names at the right
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.invert_yaxis()
    ax.grid(alpha=0.3)
    first = ranks.iloc[:, 0].to_numpy(dtype=float)
    taus = [
        f"{c}: {kendalltau(first, ranks[c].to_numpy(dtype=float)).statistic:.2f}" for c in ranks.columns[1:]
    ]
    return f"Kendall τ with the {ranks.columns[0]} ranking: " + ", ".join(taus)
