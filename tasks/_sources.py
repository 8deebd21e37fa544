"""Reading task data from local files or the HuggingFace hub, with errors that name file and row.

Local files come first because the benchmark's machines are offline; a hub id is the default
for users with a network. Every loader returns plain rows; the tasks turn them into Examples.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bench.errors import InputError

T = TypeVar("T")


def seeded_first(rows: Sequence[T], n: int | None, seed: int) -> list[T]:
    """The first `n` of `rows` in a seeded random order, so any prefix is a fair sample even when
    the source file is sorted (by label, article or date)."""
    order = np.random.default_rng(seed).permutation(len(rows))
    return [rows[i] for i in order[: len(rows) if n is None else n]]


def seeded_split(n_rows: int, test_fraction: float, seed: int) -> dict[str, list[int]]:
    """A fixed train/test partition of row indices for datasets that ship as one file."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_test = int(round(n_rows * test_fraction))
    return {"train": sorted(order[n_test:].tolist()), "test": sorted(order[:n_test].tolist())}


def find_file(data: Path, names: Sequence[str], task: str) -> Path:
    """`data` itself if it is a file, else the first of `names` inside the folder `data`."""
    if data.is_file():
        return data
    if not data.is_dir():
        raise FileNotFoundError(f"task {task!r}: data path {data} does not exist")
    for name in names:
        if (data / name).is_file():
            return data / name
    raise FileNotFoundError(f"task {task!r}: {data} has none of {', '.join(names)}")


def read_table(path: Path, delimiter: str, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a delimited file with a header, as dicts; checks it is non-empty and has the columns.

    Tab-separated files are read without quote handling (SMS texts contain stray quotes).
    """
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter, quoting=quoting)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if reader.fieldnames is None:
            raise InputError(f"{path} is empty")
        if missing:
            raise InputError(
                f"{path} lacks column(s) {', '.join(missing)}; it has {', '.join(reader.fieldnames)}"
            )
        rows = list(reader)
    if not rows:
        raise InputError(f"{path} has a header but no rows")
    return rows


def read_jsonl(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """Objects of a JSON-lines file; checks it is non-empty and every object has the fields."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"{path} line {line_number} is not JSON: {error}") from None
            missing = [field for field in required if field not in row]
            if missing:
                raise InputError(f"{path} line {line_number} lacks field(s) {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise InputError(f"{path} is empty")
    return rows


def parse_label(value: Any, labels: dict[str, int], where: str) -> int:
    """A label index from its name or number (as text); unknown labels name the file and row."""
    key = str(value).strip().lower()
    if key in labels:
        return labels[key]
    raise InputError(f"{where}: unknown label {value!r}; expected one of {', '.join(labels)}")


def hub_split(hub_id: str, split: str) -> Any:
    """One split of a hub dataset (needs the network the first time; cached by `datasets`)."""
    from datasets import load_dataset

    return load_dataset(hub_id, split=split)
