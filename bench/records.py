"""The results store: one row per (example, method) in Parquet part files under DIR/records/.

Each finished chunk of rows becomes one part file, written under a temporary name and then
renamed into place with `os.replace`, which is atomic: a reader (or a resumed run) sees a
whole part or none of it, so a kill at any moment loses at most the rows in flight. Temporary
files left by a kill never match `part-*.parquet` and are ignored.
"""

from __future__ import annotations

import os
import time
import uuid
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
        pq.write_table(table, sink)
        sink.flush()
        os.fsync(sink.fileno())
    os.replace(temporary, records / name)
    return records / name


def read_records(run_dir: Path) -> pd.DataFrame:
    """Every finished row of a run (an empty frame before the first part lands).

    A part that cannot be read is reported by name: delete it and resume to recompute its rows.
    """
    parts = sorted((Path(run_dir) / RECORDS).glob("part-*.parquet"))
    frames = []
    for part in parts:
        try:
            frames.append(pq.read_table(part).to_pandas())
        except (OSError, pa.ArrowException) as error:
            raise InputError(
                f"record part {part} is corrupt ({error}); delete it and rerun to recompute its rows"
            ) from error
    if not frames:
        return pd.DataFrame(columns=BASE_SCHEMA.names)
    records = pd.concat(frames, ignore_index=True)
    duplicated = records.duplicated(["task", "model", "method", "example_id"], keep=False)
    if duplicated.any():
        first = records[duplicated].iloc[0]
        raise InputError(
            f"{int(duplicated.sum())} duplicate rows in {run_dir}/{RECORDS} (e.g. {first['method']} on "
            f"{first['example_id']}); were two runs writing into the same directory?"
        )
    return records


def finished(records: pd.DataFrame) -> set[tuple[str, str]]:
    """(method, example_id) pairs already recorded, errors included: a resume skips them."""
    return set(zip(records["method"], records["example_id"], strict=True))
