"""`xai-bench reproduce`: the AtMan paper's comparisons (Deiseroth et al. 2023, arXiv 2301.08110)
re-run through `bench.run`, printed beside the paper's numbers.

atman-squad is the paper's Table 1 protocol: a causal LM answers SQuAD questions, each method
explains the gold answer, and the explanation is scored against the answer's span in the
context by mass precision (mAP) and mass recall (mAR). atman-digits runs the same plausibility
protocol on patch explanations of the digits ViT (the ink is the rationale). Every choice the
official code makes is set here (`Reproduction.params`, each with the Aleph-Alpha/AtMan file it
follows in `CHOICES`); the paper used GPT-J-6B on GPUs, we use SmolLM2-135M on CPU by default,
so the numbers are not expected to match theirs (see SCALE_NOTE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy.stats import trim_mean

from bench.errors import InputError
from bench.evaluate import check_token_set
from bench.precision import DEFAULT_DTYPE
from bench.records import read_records
from bench.run_config import RunConfig
from bench.runner import run

PAPER_METHODS = ("atman", "gae", "input-x-gradient", "integrated-gradients")
BASELINE_METHODS = ("random",)
"""Kept in every protocol: what a score means is only clear next to chance."""
EXTRA_METHODS = ("occlusion", "shap")
"""Not in the paper's table; run with `--extra-methods`."""
PAPER_SQUAD = {
    "atman": {"map": 73.7, "mar": 93.4},
    "gae": {"map": 72.7, "mar": 96.6},  # Chefer et al. 2021, "Chefer" in the paper
    "input-x-gradient": {"map": 51.7, "mar": 91.8},
    "integrated-gradients": {"map": 49.5, "mar": 87.1},
}
"""The paper's Table 1: SQuAD, GPT-J-6B, mAP and mAR in percent."""
PAPER_MODEL = "EleutherAI/gpt-j-6b"
PAPER_PARAMS = {
    "atman": {
        "suppression_factor": 0.9,
        "conceptual_threshold": 0.7,
        "aggregate": "squared",
        "row_min": "all",
    },
    "gae": {"target_output": "logit"},
    "input-x-gradient": {"target_output": "logit"},
    "integrated-gradients": {
        "n_steps": 10,
        "baseline": "zero",
        "image_baseline": "zero",
        "target_output": "logit",
    },
}
"""The official code's settings, the same for text and images."""
CHOICES = (
    "AtMan: f = 0.9 (the reference's suppression_factor 0.1), conceptual suppression at kappa = 0.7 over "
    "every position the model reads (atman_magma/conceptual_suppression.py), row minimum over all keys "
    "before the causal mask (manipulate_attention.py), per-target-token cross-entropy changes squared "
    "and summed (logit_parsing.py and openimages_eval.py, square_outputs=True)",
    "Chefer (gae): one backward per target token of its logit, relevance read at the row predicting it, "
    "less the identity, summed (atman_magma/chefer/method.py)",
    "input x gradient: the target tokens' logits (captum_helper.py)",
    "integrated gradients: 10 steps from a zero baseline, the target tokens' logits (captum_helper.py)",
    "random: uniform scores, the chance level of each metric",
    "mAP and mAR as openimages_eval.py's Metrics.precision and Metrics.recall, on scores clipped at 0, "
    "over the context's tokens for SQuAD (token_set='context': our reading; the paper does not publish "
    "its token set)",
)
"""Each protocol choice and the reference file it follows, printed with the table."""
SCALE_NOTE = (
    "Differences from the paper's numbers come from (1) model scale: the paper explains GPT-J-6B, we "
    "explain SmolLM2-135M by default, a model that copies answers from the context far less reliably, so "
    "what any method finds is less concentrated on the answer span; (2) sample size: the paper averages "
    "over SQuAD's dev set, we over --n examples (see the CIs and the paired-test ranks). Compare the "
    "ordering of the methods rather than the absolute values. For the paper's setting, run "
    f"`xai-bench reproduce atman-squad --model {PAPER_MODEL} --n 1000` on a GPU with >= 32 GB."
)
MAR_NOTE = (
    "mAR rewards diffuse maps: a uniform map scores 1.0 and random scores about 0.5, however little it "
    "says, while a map that picks one answer token scores low (the paper's own image mAR is 4.2 to 15.7). "
    "Read mAR only beside mAP and beside random."
)
IQM_MIN_N = 8
"""Below 8 values a 25% trim removes nothing, so the IQM would only repeat the mean."""


@dataclass(frozen=True)
class Reproduction:
    """One of the paper's comparisons: a task, its methods with the reference's settings, metrics."""

    name: str
    task: str
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    n: int = 100
    """Default examples per method."""
    paper: dict[str, dict[str, float]] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=lambda: PAPER_PARAMS)
    extra_methods: tuple[str, ...] = EXTRA_METHODS
    token_set: str = "context"
    plugins: tuple[str, ...] = ()


PROTOCOLS = {
    "atman-squad": Reproduction(
        "atman-squad",
        "squad_qa",
        PAPER_METHODS + BASELINE_METHODS,
        ("map", "mar"),
        paper=PAPER_SQUAD,
    ),
    "atman-digits": Reproduction(
        "atman-digits", "digits_vit", PAPER_METHODS + BASELINE_METHODS, ("map", "mar")
    ),
}


def interquartile_mean(values: np.ndarray) -> float:
    """The mean of the middle half (25% trimmed from each end; NaNs ignored), robust to outliers."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(trim_mean(values, 0.25)) if len(values) else float("nan")


def comparison_table(
    records: pd.DataFrame, summary: pd.DataFrame, methods: tuple[str, ...], protocol: Reproduction
) -> pd.DataFrame:
    """Per method and metric, in percent: n, the mean with its 95% bootstrap CI, the paired-test
    rank (and whether it is tied), the IQM (n >= IQM_MIN_N only) and the paper's value."""
    ok = records[records["error"].isna()]
    rows = []
    for method in methods:
        mine = ok[ok["method"] == method]
        row: dict[str, object] = {"method": method}
        for metric in protocol.metrics:
            values = mine[f"metric_{metric}"].to_numpy(dtype=np.float64) if len(mine) else np.array([])
            n = int(np.isfinite(values).sum())
            stats = summary[(summary["method"] == method) & (summary["metric"] == metric)]
            row[f"n_{metric}"] = n
            row[f"{metric}_mean"] = 100 * float(np.nanmean(values)) if n else np.nan
            row[f"{metric}_ci_low"] = 100 * float(stats["ci_low"].iloc[0]) if len(stats) else np.nan
            row[f"{metric}_ci_high"] = 100 * float(stats["ci_high"].iloc[0]) if len(stats) else np.nan
            row[f"{metric}_rank"] = int(stats["rank"].iloc[0]) if len(stats) else np.nan
            tied = stats["tied_with"].iloc[0] if len(stats) else ""
            row[f"{metric}_tied"] = isinstance(tied, str) and bool(tied)  # read back from CSV, "" is NaN
            row[f"{metric}_iqm"] = 100 * interquartile_mean(values) if n >= IQM_MIN_N else np.nan
            row[f"{metric}_paper"] = protocol.paper.get(method, {}).get(metric, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1f}"


def print_comparison(
    table: pd.DataFrame, records: pd.DataFrame, protocol: Reproduction, model: str, console: Console
) -> None:
    """One table per metric (ours beside the paper's), then the time per method and the notes."""
    if not console.is_terminal:
        console.width = max(console.width, 112)  # a pipe or a log file: room for the full table
    beside = " beside the paper (GPT-J-6B)" if protocol.paper else ""
    for metric in protocol.metrics:
        grid = Table(title=f"{protocol.name} {metric} on {model}, in %{beside}")
        for column in (
            "method",
            "n",
            "mean",
            "95% CI",
            "rank",
            "IQM",
            *(("paper",) if protocol.paper else ()),
        ):
            grid.add_column(column, justify="left" if column == "method" else "right")
        for _, row in table.iterrows():
            rank = row[f"{metric}_rank"]
            cells = [
                row["method"],
                str(row[f"n_{metric}"]),
                _number(row[f"{metric}_mean"]),
                f"{_number(row[f'{metric}_ci_low'])}..{_number(row[f'{metric}_ci_high'])}",
                "-" if pd.isna(rank) else f"{int(rank)}{'=' if row[f'{metric}_tied'] else ''}",
                _number(row[f"{metric}_iqm"]),
            ]
            if protocol.paper:
                cells.append(_number(row[f"{metric}_paper"]))
            grid.add_row(*cells)
        console.print(grid)
    seconds = records[records["error"].isna()].groupby("method")["cost_seconds"]
    means, totals = seconds.mean(), seconds.sum()
    console.print(
        "Time per example (total): "
        + ", ".join(f"{m} {means[m]:.3g} s ({totals[m] / 60:.3g} min)" for m in table["method"] if m in means)
    )
    console.print(
        f"Ranks: 1 + the methods significantly better (paired Wilcoxon, Holm-corrected, p < 0.05), "
        f"= when tied with another; IQM only from n >= {IQM_MIN_N}."
    )
    console.print("Protocol:\n" + "\n".join(f"- {choice}" for choice in CHOICES))
    console.print(MAR_NOTE)
    if protocol.paper:
        console.print(SCALE_NOTE)


def reproduce(
    name: str,
    n: int | None = None,
    model: str | None = None,
    data: str | None = None,
    out: str | None = None,
    seed: int = 0,
    extra_methods: bool = False,
    token_set: str | None = None,
    console: Console | None = None,
    dtype: str = DEFAULT_DTYPE,
) -> pd.DataFrame:
    """Run protocol `name` (resumable, like any run) and return the comparison table, also
    written as DIR/reproduce.csv next to the run's records."""
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    protocol = PROTOCOLS[name]
    token_set = token_set or protocol.token_set
    check_token_set(token_set)
    console = console or Console(markup=False)  # method and task names are text, not markup
    methods = protocol.methods + (protocol.extra_methods if extra_methods else ())
    label = model.strip("/").replace("/", "--") if model else "default"
    label += "-extra" if extra_methods else ""
    label += "" if token_set == protocol.token_set else f"-{token_set}"
    label += "" if dtype == DEFAULT_DTYPE else f"-{dtype}"
    config = RunConfig(
        task=protocol.task,
        methods=list(methods),
        metrics=list(protocol.metrics),
        n=n or protocol.n,
        seed=seed,
        data=data,
        model=model,
        token_set=token_set,
        dtype=dtype,
        params={method: dict(params) for method, params in protocol.params.items() if method in methods},
        plugins=list(protocol.plugins),
        out=out or str(Path("results") / f"reproduce-{name}-{label}"),
    )
    summary = run(config, console=console)
    records = read_records(Path(config.out))
    table = comparison_table(records, summary, methods, protocol)
    table.to_csv(Path(config.out) / "reproduce.csv", index=False)
    print_comparison(table, records, protocol, ", ".join(sorted(set(records["model"]))), console)
    return table
