"""Where a run's time went: per method, the seconds spent explaining and scoring its rows (as
the records hold them), and per stage, this invocation's wall time. Printed at the end of a run
and written as DIR/timing.csv, so "why is my run slow" has an answer without a profiler."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.atomic import write_atomic

COLUMNS = {
    "rows": "rows",
    "explain_seconds": "explain s",
    "eval_seconds": "scoring s",
    "explain_forward_passes": "explain fwd",
    "eval_forward_passes": "scoring fwd",
    "share": "share",
}


def method_breakdown(records: pd.DataFrame) -> pd.DataFrame:
    """Per method over its finished rows: rows, explaining and scoring seconds and forward
    passes, and its share of all the run's explaining and scoring seconds."""
    done = records[records["error"].isna()] if "error" in records else records
    if not len(done):
        return pd.DataFrame(columns=["method", *COLUMNS])
    frame = pd.DataFrame(
        {
            "method": done["method"],
            "rows": 1,
            "explain_seconds": done.get("cost_seconds", 0.0),
            "eval_seconds": done.get("eval_seconds", 0.0),
            "explain_forward_passes": done.get("cost_forward_passes", 0),
            "eval_forward_passes": done.get("eval_forward_passes", 0),
        }
    ).fillna(0)
    table = frame.groupby("method", sort=False).sum()
    seconds = table["explain_seconds"] + table["eval_seconds"]
    table["share"] = seconds / max(float(seconds.sum()), 1e-12)
    return table.sort_values("share", ascending=False).reset_index()


def print_breakdown(table: pd.DataFrame, stages: dict[str, float], console: Console) -> None:
    """The per-method table, a total line, and this invocation's stages (seconds of wall time)."""
    shown = Table(
        title=Text("where the time went (seconds recorded per row, summed over the run's rows and workers)")
    )
    shown.add_column("method", no_wrap=True, min_width=max([6, *map(len, table["method"].astype(str))]))
    for label in COLUMNS.values():
        shown.add_column(label, justify="right")
    total = {"method": "all", **table[list(COLUMNS)].sum().to_dict(), "share": 1.0} if len(table) else None
    for row in [*table.to_dict("records"), *([total] if total else [])]:
        shown.add_row(
            Text(str(row["method"])),
            f"{int(row['rows'])}",
            f"{row['explain_seconds']:.1f}",
            f"{row['eval_seconds']:.1f}",
            f"{int(row['explain_forward_passes']):,}",
            f"{int(row['eval_forward_passes']):,}",
            f"{row['share']:.0%}",
        )
    console.print(shown)
    console.print("this run's wall time: " + ", ".join(f"{name} {s:.1f} s" for name, s in stages.items()))


def write_breakdown(run_dir: Path, table: pd.DataFrame, stages: dict[str, float]) -> None:
    rows = [*table.to_dict("records"), *({"method": f"stage: {k}", "seconds": v} for k, v in stages.items())]
    write_atomic(Path(run_dir) / "timing.csv", pd.DataFrame(rows).to_csv(index=False))
