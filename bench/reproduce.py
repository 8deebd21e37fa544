"""`xai-bench reproduce`: the AtMan paper's comparisons (Deiseroth et al. 2023, arXiv 2301.08110)
re-run at small scale through `bench.run`, printed beside the paper's numbers.

atman-squad is the paper's Table 1 protocol: a causal LM answers SQuAD questions, each method
explains the gold answer, and the explanation is scored against the answer's span in the
context by mass precision (mAP) and mass recall (mAR), as means and interquartile means (IQM).
The paper used GPT-J-6B on GPUs; by default we use SmolLM2-135M on a few examples on CPU, so
our numbers are not expected to match theirs (see SCALE_NOTE). atman-digits runs the same
plausibility protocol on patch explanations of the digits ViT (the ink is the rationale).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy.stats import trim_mean

from bench.errors import InputError
from bench.records import read_records
from bench.run_config import RunConfig
from bench.runner import run

PAPER_METHODS = ("atman", "gae", "input-x-gradient", "integrated-gradients")
EXTRA_METHODS = ("occlusion", "shap", "random")
PAPER_SQUAD = {
    "atman": {"map": 73.7, "mar": 93.4},
    "gae": {"map": 72.7, "mar": 96.6},  # Chefer et al. 2021, "Chefer" in the paper
    "input-x-gradient": {"map": 51.7, "mar": 91.8},
    "integrated-gradients": {"map": 49.5, "mar": 87.1},
}
"""The paper's Table 1: SQuAD, GPT-J-6B, mAP and mAR in percent."""
PAPER_MODEL = "EleutherAI/gpt-j-6b"
SCALE_NOTE = (
    "Differences from the paper's numbers come from (1) model scale: the paper explains GPT-J-6B, we "
    "explain SmolLM2-135M by default, a model that copies answers from the context far less reliably, so "
    "what any method finds is less concentrated on the answer span; (2) sample size: the paper averages "
    "over SQuAD's dev set, we over --n examples (see the n column and the CIs in summary.csv), so "
    "differences of a few points are within noise here. Metric and protocol are the same; compare the "
    "ordering of the methods rather than the absolute values. For the paper's setting, run "
    f"`xai-bench reproduce atman-squad --model {PAPER_MODEL} --n 1000` on a GPU with >= 32 GB."
)
OFFLINE_SQUAD = Path("../shared/data/squad")
"""The offline SQuAD copy used when --data is not given and the folder exists (else the hub)."""


@dataclass(frozen=True)
class Protocol:
    name: str
    task: str
    methods: tuple[str, ...]
    metrics: tuple[str, ...]
    n: int
    """Default examples per method (small: this runs on CPU by default)."""
    data: Path | None = None
    paper: dict[str, dict[str, float]] = field(default_factory=dict)
    plugins: tuple[str, ...] = ()


PROTOCOLS = {
    "atman-squad": Protocol(
        "atman-squad",
        "squad_qa",
        PAPER_METHODS + EXTRA_METHODS,
        ("map", "mar"),
        10,
        OFFLINE_SQUAD,
        PAPER_SQUAD,
    ),
    "atman-digits": Protocol("atman-digits", "digits_vit", PAPER_METHODS + EXTRA_METHODS, ("map", "mar"), 20),
}


def interquartile_mean(values: np.ndarray) -> float:
    """The mean of the middle half (25% trimmed from each end; NaNs ignored), robust to outliers."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(trim_mean(values, 0.25)) if len(values) else float("nan")


def comparison_table(records: pd.DataFrame, protocol: Protocol) -> pd.DataFrame:
    """Per method: n, mean and IQM of each metric in percent, and the paper's values beside them."""
    ok = records[records["error"].isna()]
    rows = []
    for method in protocol.methods:
        mine = ok[ok["method"] == method]
        row: dict[str, object] = {"method": method}
        for metric in protocol.metrics:
            values = mine[f"metric_{metric}"].to_numpy(dtype=np.float64) if len(mine) else np.array([])
            row[f"n_{metric}"] = int(np.isfinite(values).sum())
            row[f"{metric}_mean"] = 100 * float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
            row[f"{metric}_iqm"] = 100 * interquartile_mean(values)
            row[f"{metric}_paper"] = protocol.paper.get(method, {}).get(metric, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def print_comparison(table: pd.DataFrame, protocol: Protocol, model: str, console: Console) -> None:
    beside = " beside the paper (GPT-J-6B)" if protocol.paper else ""
    grid = Table(title=f"{protocol.name} on {model}: ours (mean / IQM, %){beside}")
    grid.add_column("method")
    for metric in protocol.metrics:
        for label in ("n", "mean", "IQM", "paper") if protocol.paper else ("n", "mean", "IQM"):
            grid.add_column(f"{metric} {label}", justify="right")
    for _, row in table.iterrows():
        cells = [row["method"]]
        for metric in protocol.metrics:
            cells += [str(row[f"n_{metric}"]), f"{row[f'{metric}_mean']:.1f}", f"{row[f'{metric}_iqm']:.1f}"]
            if protocol.paper:
                paper = row[f"{metric}_paper"]
                cells.append("-" if np.isnan(paper) else f"{paper:.1f}")
        grid.add_row(*cells)
    console.print(grid)
    if protocol.paper:
        console.print(SCALE_NOTE)


def reproduce(
    name: str,
    n: int | None = None,
    model: str | None = None,
    data: str | None = None,
    out: str | None = None,
    seed: int = 0,
    console: Console | None = None,
) -> pd.DataFrame:
    """Run protocol `name` (resumable, like any run) and return the comparison table, also
    written as DIR/reproduce.csv next to the run's records."""
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    protocol = PROTOCOLS[name]
    console = console or Console()
    if data is None and protocol.data is not None and protocol.data.is_dir():
        data = str(protocol.data)
    label = model.strip("/").replace("/", "--") if model else "default"
    config = RunConfig(
        task=protocol.task,
        methods=list(protocol.methods),
        metrics=list(protocol.metrics),
        n=n or protocol.n,
        seed=seed,
        data=data,
        model=model,
        plugins=list(protocol.plugins),
        out=out or str(Path("results") / f"reproduce-{name}-{label}"),
    )
    run(config, console=console)
    records = read_records(Path(config.out))
    table = comparison_table(records, protocol)
    table.to_csv(Path(config.out) / "reproduce.csv", index=False)
    print_comparison(table, protocol, ", ".join(sorted(set(records["model"]))), console)
    return table
