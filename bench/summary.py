"""Present a run's summary: summary.csv and summary.md in the run directory, and a ranked
table on the terminal with each metric's mean, 95% CI and rank plus the cost columns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.atomic import write_atomic
from bench.protocol import DEFAULT_PROTOCOL, is_registered, metric_of, split_key
from bench.ranking import NOTE, ranking_lines
from bench.stats import TAUTOLOGICAL, rank_label

COST_COLUMNS = {
    "seconds": "s/ex",
    "forward_passes": "fwd/ex",
    "eval_seconds": "eval s/ex",
    "eval_forward_passes": "eval fwd/ex",
}


def _cell(row: pd.Series) -> str:
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] {rank_label(row)}"


def quality_metrics(summary: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """The metrics of `metrics` the summary holds, cost left out; a metric a run recorded but this
    version no longer registers is kept (shown, not used to order)."""
    present = set(summary["metric"])
    return [m for m in metrics if m in present and (not is_registered(m) or metric_of(m).family != "cost")]


def ranked_methods(group: pd.DataFrame, quality: Sequence[str]) -> list[str]:
    """The methods of one (task, model) group ordered by their rank on the first registered
    quality metric, then by its mean (best first); alphabetical when no metric is registered."""
    methods = sorted(set(group["method"]))
    registered = [m for m in quality if is_registered(m)]
    if not registered:
        return methods
    lead = registered[0]
    order = group[group["metric"] == lead].set_index("method")[["rank", "mean"]].reindex(methods)
    order["key"] = order["mean"] * (-1 if metric_of(lead).higher_is_better else 1)
    return order.sort_values(["rank", "key"]).index.tolist()


def ranked_tables(summary: pd.DataFrame, metrics: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """One wide table per (task, model): a row per method, ordered by its rank on the first
    quality metric (then its mean); columns are the quality metrics, then the cost means."""
    quality = quality_metrics(summary, metrics)
    tables = []
    for (task, model), group in summary.groupby(["task", "model"], sort=True):
        cells = pd.DataFrame(index=ranked_methods(group, quality))
        for name in quality:
            part = group[group["metric"] == name].set_index("method")
            cells[name] = part.apply(_cell, axis=1).reindex(cells.index).astype(object).fillna("-")
        for name, label in COST_COLUMNS.items():
            part = group[group["metric"] == name].set_index("method")["mean"]
            cells[label] = part.reindex(cells.index).map(lambda v: "-" if pd.isna(v) else f"{v:.3g}")
        tables.append((f"{task} / {model}", cells))
    return tables


def footnotes(summary: pd.DataFrame) -> list[str]:
    """One line per (metric, method) a metric does not rank, for under the tables."""
    rows = summary[summary["tied_with"] == TAUTOLOGICAL]
    return [
        f"† {row['metric']} does not rank {row['method']} ({row['task']}): its reference perturbs the "
        "input the way this method does, so the two agree by construction."
        for _, row in rows.iterrows()
    ]


def protocols_of(keys: Sequence[str]) -> list[str]:
    """The protocols behind a run's metric keys, in order (the default one when none is named)."""
    named = [split_key(key)[1] for key in keys if is_registered(key) and metric_of(key).protocol_settings]
    return list(dict.fromkeys(named)) or [DEFAULT_PROTOCOL]


def compact_number(value: float) -> str:
    """A cost for a narrow column: thousands separated above 100, else two significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2g}"


def _direction(name: str) -> str:
    if not is_registered(name):
        return name
    return f"{name} {'↑' if metric_of(name).higher_is_better else '↓'}"


def failed_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Per task, model, method and error message: how many rows failed with it."""
    failed = records[records["error"].notna()] if "error" in records else records.iloc[:0]
    return failed.groupby(["task", "model", "method", "error"], sort=True).size().rename("rows").reset_index()


def write_summary(
    run_dir: Path,
    summary: pd.DataFrame,
    metrics: Sequence[str],
    records: pd.DataFrame,
    skipped: dict[str, str] | None = None,
) -> None:
    """summary.csv and summary.md: the tables, the rankings' verdicts, the rows that failed and
    the methods the run left out (`skipped`: name -> why it cannot run here), each with its
    reason, so a method that never ran is named with why."""
    write_atomic(Path(run_dir) / "summary.csv", summary.to_csv(index=False))
    lines = [
        "# Summary",
        "",
        f"Protocols: {', '.join(protocols_of(metrics))} (a metric under a protocol other than xai-bench "
        "is named metric@protocol; see the README's 'Evaluation protocols').",
        "",
        "Cells: mean [95% bootstrap CI] #rank; `=` marks a tie with another method (paired Wilcoxon, "
        "Holm-corrected, p >= 0.05). ↑ higher is better, ↓ lower is better.",
        "",
    ]
    for title, cells in ranked_tables(summary, metrics):
        renamed = cells.rename(columns=_direction).rename_axis("method")
        lines += [f"## {title}", "", renamed.to_markdown(), ""]
    lines += [*footnotes(summary), ""] if footnotes(summary) else []
    verdicts = ranking_lines(records, list(metrics))
    lines += ["## Rankings", "", NOTE, "", *(f"- {line}" for line in verdicts), ""] if verdicts else []
    failures = failed_rows(records)
    if len(failures) or skipped:
        lines += ["## Rows not run", ""]
        lines += [
            f"- {row.task} / {row.model}, {row.method}: {row.rows} row(s): {row.error}"
            for row in failures.itertuples()
        ]
        lines += [
            f"- {name}: skipped, not run by default here: {why}" for name, why in (skipped or {}).items()
        ]
        lines += [""]
    lines += ["## All values", "", summary.to_markdown(index=False), ""]
    write_atomic(Path(run_dir) / "summary.md", "\n".join(lines))


def print_summary(summary: pd.DataFrame, metrics: Sequence[str], console: Console | None = None) -> None:
    """Per (task, model), one ranked block per quality metric: rank ('=' when tied with another
    method), method, mean, 95% CI and the method's cost; summary.md has the per-method tables."""
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, 112)  # a pipe or a log file: room for full numbers
    cost = summary[summary["metric"].isin(list(COST_COLUMNS))]
    quality = [m for m in metrics if not is_registered(m) or metric_of(m).family != "cost"]
    for (task, model), group in summary.groupby(["task", "model"], sort=True):
        protocols = ", ".join(protocols_of(metrics))
        title = f"{task} / {model}, protocols {protocols}: ranks (= not significantly different)"
        table = Table(title=Text(title))  # user text (names, tokens) is never markup
        for column in ("metric", "rank", "method", "mean", "95% CI", *COST_COLUMNS.values()):
            table.add_column(column, justify="left" if column == "method" else "right", no_wrap=True)
        costs = cost[(cost["task"] == task) & (cost["model"] == model)].pivot(
            index="method", columns="metric", values="mean"
        )
        for name in quality:
            rows = group[group["metric"] == name]
            for i, (_, row) in enumerate(rows.iterrows()):
                table.add_row(
                    _direction(name) if i == 0 else "",
                    rank_label(row).lstrip("#"),
                    Text(row["method"]),
                    f"{row['mean']:.3f}",
                    f"{row['ci_low']:.3f}..{row['ci_high']:.3f}",
                    *(
                        compact_number(costs.at[row["method"], c])
                        if c in costs and row["method"] in costs.index
                        else "-"
                        for c in COST_COLUMNS
                    ),
                    end_section=i == len(rows) - 1,
                )
        console.print(table)
