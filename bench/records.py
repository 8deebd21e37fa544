"""The results store: one row per (example, method) in Parquet part files under DIR/records/.

Each finished chunk of rows becomes one part file, written under a temporary name and then
renamed into place with `os.replace`, which is atomic: a reader (or a resumed run) sees a
whole part or none of it, so a kill at any moment loses at most the rows in flight. Temporary
files left by a kill never match `part-*.parquet` and are ignored.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import InputError

RECORDS = "records"
CURVES = ("deletion", "insertion", "randomization", "randomization_abs")
BASE_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("model", pa.string()),
        ("method", pa.string()),
        ("example_id", pa.string()),
        ("seed", pa.int64()),
        ("replacement", pa.string()),
        ("target", pa.string()),
        ("tokens", pa.list_(pa.string())),
        ("scores", pa.list_(pa.float64())),
        ("special", pa.list_(pa.bool_())),
        ("rationale", pa.list_(pa.int64())),
        ("candidates", pa.list_(pa.bool_())),
        ("patch_grid", pa.list_(pa.int64())),
        ("error", pa.string()),
        ("cost_seconds", pa.float64()),
        ("cost_forward_passes", pa.int64()),
        ("cost_backward_passes", pa.int64()),
        ("cost_peak_memory_bytes", pa.int64()),
        ("eval_seconds", pa.float64()),
        ("eval_forward_passes", pa.int64()),
        ("tautological", pa.list_(pa.string())),
    ]
)


def record_schema(metric_columns: Sequence[str]) -> pa.Schema:
    """The base columns, one float column per metric, and the curve columns."""
    schema = BASE_SCHEMA
    for column in metric_columns:
        schema = schema.append(pa.field(column, pa.float64()))
    for curve in CURVES:
        schema = schema.append(pa.field(f"curve_{curve}", pa.list_(pa.float64())))
    return schema


def write_part(run_dir: Path, rows: list[dict], metric_columns: Sequence[str]) -> Path:
    """Write `rows` as one new part file, atomically; returns its path."""
    records = Path(run_dir) / RECORDS
    records.mkdir(parents=True, exist_ok=True)
    schema = record_schema(metric_columns)
    table = pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema)
    name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
    temporary = records / f".{name}.tmp"
    with open(temporary, "wb") as sink:
        pq.write_table(table, sink, write_page_checksum=True)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, records / name)
    return records / name


KEY = ["task", "model", "method", "example_id"]
VALUES = ("scores", "error")
"""With the metric columns: what must agree for two rows of one key to count as the same result
(timings differ between two computations of the same row)."""


def read_records(run_dir: Path) -> pd.DataFrame:
    """Every finished row of a run (an empty frame before the first part lands).

    Parts are read with page checksum verification. A part that cannot be read is reported by
    name: delete it and resume to recompute its rows. Per (task, model, method, example): a
    result supersedes error rows (a retry that succeeded), the latest error row stands for a
    row that failed again, and identical results written twice (older versions allowed two
    runs into one folder) are dropped with a warning; different results are an error.
    """
    parts = sorted((Path(run_dir) / RECORDS).glob("part-*.parquet"))
    frames = []
    for part in parts:
        try:
            frames.append(pq.read_table(part, page_checksum_verification=True).to_pandas())
        except (OSError, pa.ArrowException) as error:
            raise InputError(
                f"record part {part} is corrupt ({error}); delete it and rerun to recompute its rows"
            ) from error
    if not frames:
        return pd.DataFrame(columns=BASE_SCHEMA.names)
    return _one_row_per_key(pd.concat(frames, ignore_index=True), run_dir)


def _one_row_per_key(records: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    failed = records["error"].notna()
    results = records[~failed]
    # an error row whose key also has a result was retried successfully: the result stands
    retried = records[failed].merge(results[KEY].drop_duplicates(), on=KEY, how="left", indicator=True)
    errors = records[failed][(retried["_merge"] == "left_only").to_numpy()].drop_duplicates(KEY, keep="last")
    duplicated = results.duplicated(KEY, keep=False)
    if duplicated.any():
        twice = results[duplicated]
        columns = [c for c in results.columns if c in VALUES or c.startswith("metric_")]
        fingerprint = twice[columns].apply(lambda row: json.dumps(row.tolist(), default=str), axis=1)
        different = twice.assign(_value=fingerprint).groupby(KEY)["_value"].nunique() > 1
        if different.any():
            task, model, method, example = different[different].index[0]
            raise InputError(
                f"{int(different.sum())} rows of {run_dir}/{RECORDS} were recorded twice with different "
                f"results (e.g. {method} on {example}); delete the folder's records of those rows and resume"
            )
        warnings.warn(
            f"{run_dir}: {len(twice) - len(twice.drop_duplicates(KEY))} identical duplicate rows dropped",
            stacklevel=2,
        )
        results = results.drop_duplicates(KEY, keep="first")
    return pd.concat([results, errors]).sort_index().reset_index(drop=True)


def finished(records: pd.DataFrame, retry_errors: bool = False) -> set[tuple[str, str, str]]:
    """(task, method, example_id) rows already recorded: a resume skips them (error rows too,
    unless `retry_errors`)."""
    if retry_errors and len(records):
        records = records[records["error"].isna()]
    return set(zip(records["task"], records["method"], records["example_id"], strict=True))
