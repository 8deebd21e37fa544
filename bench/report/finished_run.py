"""A finished run as the report reads it: config, meta, records and summary, loaded from disk
with errors that say which file is missing or unreadable and what to do about it."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import InputError
from bench.protocol import DEFAULT_PROTOCOL, metric_keys
from bench.records import read_records
from bench.stats import SUMMARY_COLUMNS, summarize


@dataclass
class FinishedRun:
    path: Path
    config: dict[str, Any]
    config_text: str
    meta: dict[str, Any]
    records: pd.DataFrame
    """Every record row, errors included."""
    summary: pd.DataFrame

    @property
    def ok(self) -> pd.DataFrame:
        """The rows without errors."""
        return self.records[self.records["error"].isna()]

    @property
    def methods(self) -> list[str]:
        """Methods in the order the config lists them (then any others found in the records)."""
        listed = [m for m in self.config.get("methods", []) if m in set(self.records["method"])]
        return listed + sorted(set(self.records["method"]) - set(listed))

    @property
    def protocols(self) -> list[str]:
        """The evaluation protocols the run was scored under (older runs: the default one)."""
        return list(self.config.get("protocols") or [DEFAULT_PROTOCOL])

    @property
    def seed(self) -> int:
        return int(self.meta.get("seed", self.config.get("seed", 0)))


def _read_config(path: Path) -> tuple[dict[str, Any], str]:
    file = path / "config.toml"
    if not file.is_file():
        raise InputError(
            f"{path} is not a run directory: it has no config.toml (make one with `xai-bench run`)"
        )
    text = file.read_text()
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{file} is not valid TOML ({error})") from error


def _read_meta(path: Path) -> dict[str, Any]:
    file = path / "meta.json"
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{file} is not valid JSON ({error})") from error


def _read_summary(path: Path, config: dict[str, Any], records: pd.DataFrame) -> pd.DataFrame:
    """summary.csv, or, when it is missing or unreadable, the summary recomputed from the records
    (the records are the truth; the summary is always derived from them)."""
    file = path / "summary.csv"
    try:
        summary = pd.read_csv(file)
        missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        missing = SUMMARY_COLUMNS
    if missing:
        metrics = config.get("metrics") or []
        keys = metric_keys(metrics, config.get("protocols") or [DEFAULT_PROTOCOL])
        summary = summarize(records, keys, seed=int(config.get("seed", 0)))
    for column in ("mean", "ci_low", "ci_high"):
        summary[column] = pd.to_numeric(summary[column], errors="coerce")
    summary["tied_with"] = summary["tied_with"].astype(object).fillna("").astype(str)
    return summary


def load_run(path: str | Path) -> FinishedRun:
    """Load the run directory `path`; InputError names what is missing or corrupt."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no run directory at {path}")
    if not path.is_dir():
        raise InputError(f"{path} is a file, not a run directory")
    config, config_text = _read_config(path)
    records = read_records(path)
    if records.empty:
        raise InputError(
            f"{path} has no records (records/part-*.parquet); the run has not finished any job yet"
        )
    return FinishedRun(
        path, config, config_text, _read_meta(path), records, _read_summary(path, config, records)
    )
