"""Finished run directories made by hand (no runner, no model): config.toml, meta.json, one
records part with the schema's exact column names, and summary.csv with known values. The image
run names `tests.bench.report.finished_runs` as its plugin, whose task re-makes its images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.task import Task, register_task
from bench.types import Example

METHODS = ["atman", "gae", "random"]
TOKENS = ["[CLS]", "win", "free", "cash", "now", "call", "me", "[SEP]"]
TEXT_METRICS = ["deletion", "insertion", "map", "mar", "seconds", "peak_memory"]
SUMMARY_VALUES = {
    # (method, metric): (mean, ci_low, ci_high, rank, tied_with)
    ("atman", "deletion"): (0.1234, 0.1011, 0.1499, 1, ""),
    ("gae", "deletion"): (0.2345, 0.2001, 0.2702, 2, "random"),
    ("random", "deletion"): (0.3456, 0.2903, 0.3988, 2, "gae"),
    ("atman", "insertion"): (0.8765, 0.8401, 0.9002, 1, "gae"),
    ("gae", "insertion"): (0.7654, 0.7011, 0.8123, 1, "atman"),
    ("random", "insertion"): (0.5432, 0.5001, 0.5999, 3, ""),
    ("atman", "map"): (0.6543, 0.6012, 0.7001, 1, "gae;random"),
    ("gae", "map"): (0.6111, 0.5502, 0.6603, 1, "atman;random"),
    ("random", "map"): (0.4321, 0.3301, 0.5401, 1, "atman;gae"),
}
N_EXAMPLES = 6
MODEL_ACCURACY = 0.8675
"""The test accuracy meta.json records for the run's model (shown as 86.8%)."""


def _base_row(task: str, method: str, example: int, replacement: str) -> dict:
    return {
        "task": task,
        "model": "tiny-model",
        "method": method,
        "example_id": f"ex-{example}",
        "seed": 0,
        "replacement": replacement,
        "error": None,
        "cost_seconds": 0.01 * (1 + METHODS.index(method)) * (1 + example),
        "cost_forward_passes": 1 + example,
        "cost_backward_passes": 0,
        "cost_peak_memory_bytes": 2**20 * (1 + METHODS.index(method)),
    }


def text_records(replacements: tuple[str, ...] = ("mask",)) -> pd.DataFrame:
    """Rows of every (replacement, method, example); example i has 4 + i % 3 content tokens."""
    rng = np.random.default_rng(0)
    rows = []
    for replacement in replacements:
        for method in METHODS:
            for example in range(N_EXAMPLES):
                length = 4 + example % 3
                tokens = TOKENS[:1] + TOKENS[1 : 1 + length] + TOKENS[-1:]
                special = [True] + [False] * length + [True]
                scores = [0.0] + list(rng.normal(size=length)) + [0.0]
                curve = np.linspace(1.0, 0.1 * (1 + METHODS.index(method)), length + 1)
                row = _base_row("fake-text", method, example, replacement)
                row.update(
                    target="1",
                    tokens=tokens,
                    scores=scores,
                    special=special,
                    rationale=[0, 1, 1] + [0] * (length - 1),
                    patch_grid=None,
                    metric_deletion=float(rng.uniform()),
                    metric_insertion=float(rng.uniform()),
                    metric_map=float(rng.uniform()),
                    metric_mar=float(rng.uniform()),
                    curve_deletion=list(curve),
                    curve_insertion=list(curve[::-1]),
                )
                rows.append(row)
    rows[-1] = {**rows[-1], "error": "NotApplicableError: made up", "scores": None, "metric_map": None}
    return pd.DataFrame(rows)


def summary_table(task: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "task": task,
                "model": "tiny-model",
                "method": method,
                "metric": metric,
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": N_EXAMPLES,
                "rank": rank,
                "tied_with": tied,
            }
            for (method, metric), (mean, low, high, rank, tied) in SUMMARY_VALUES.items()
        ]
    )


def write_run(path: Path, records: pd.DataFrame, config: str, summary: pd.DataFrame) -> Path:
    (path / "records").mkdir(parents=True)
    records.to_parquet(path / "records" / "part-0001-aaaa.parquet", index=False)
    (path / "config.toml").write_text(config)
    meta = {
        "seed": 0,
        "started": "2026-11-29T03:00:00+00:00",
        "platform": "test",
        "versions": {"torch": "9.9.9"},
        "model_test_accuracy": {records["task"].iloc[0]: {"accuracy": MODEL_ACCURACY, "n_test": 40}},
    }
    (path / "meta.json").write_text(json.dumps(meta))
    summary.to_csv(path / "summary.csv", index=False)
    return path


def text_run(path: Path, replacements: tuple[str, ...] = ("mask",)) -> Path:
    config = (
        'task = "fake-text"\nmethods = ["atman", "gae", "random"]\n'
        f"metrics = {json.dumps(TEXT_METRICS)}\nn = {N_EXAMPLES}\nseed = 0\n"
        f'replacement = "{replacements[0]}"\nname = "hand-made"\n'
    )
    return write_run(path, text_records(replacements), config, summary_table("fake-text"))


MULTI_TASKS = ("fake-a", "fake-b")


def multi_task_records() -> pd.DataFrame:
    """`text_records` of two tasks (ids prefixed by the task, the same error row in each), with
    comprehensiveness where atman and gae tie on every example and random is lowest. (The report's
    heatmaps cannot yet tell apart two tasks' examples of the same id.)"""
    frames = []
    for task in MULTI_TASKS:
        records = text_records().assign(task=task)
        example = records["example_id"].str.removeprefix("ex-").astype(int)
        records["example_id"] = task + ":" + records["example_id"]
        level = records["method"].map({"atman": 0.8, "gae": 0.8, "random": 0.2})
        records["metric_comprehensiveness"] = level + 0.01 * example
        records.loc[records["error"].notna(), "metric_comprehensiveness"] = None
        frames.append(records)
    return pd.concat(frames, ignore_index=True)


def multi_task_run(path: Path) -> Path:
    """A suite's run folder: rows of both MULTI_TASKS in one records part, its summary computed."""
    from bench.stats import summarize

    metrics = ["comprehensiveness", *TEXT_METRICS]
    config = (
        f'task = "{",".join(MULTI_TASKS)}"\nmethods = ["atman", "gae", "random"]\n'
        f"metrics = {json.dumps(metrics)}\nn = {N_EXAMPLES}\nseed = 0\n"
        'replacement = "mask"\nname = "suite"\n'
    )
    records = multi_task_records()
    return write_run(path, records, config, summarize(records, metrics))


GRID = (2, 3)


def digit(example: int) -> np.ndarray:
    """A (12, 18, 3) image: one bright 6x6 block per example, at patch `example % 6`."""
    image = np.zeros((12, 18, 3), dtype=np.uint8)
    row, col = divmod(example % 6, GRID[1])
    image[row * 6 : row * 6 + 6, col * 6 : col * 6 + 6] = 255
    return image


@register_task("fake-blocks")
class FakeBlocks(Task):
    """Images whose examples the image report re-makes by id (no model)."""

    name = "fake-blocks"
    modality = "image"
    model_kind = "image-classifier"

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        return [Example(f"ex-{i}", digit(i), 0) for i in range(n or N_EXAMPLES)]


def image_run(path: Path, task: str = "fake-blocks") -> Path:
    rng = np.random.default_rng(1)
    rows = []
    for method in METHODS:
        for example in range(N_EXAMPLES):
            positions = 1 + GRID[0] * GRID[1]
            row = _base_row(task, method, example, "zero")
            row.update(
                target="0",
                tokens=["[CLS]"] + [f"patch {i}" for i in range(positions - 1)],
                scores=[0.0] + list(rng.normal(size=positions - 1)),
                special=[True] + [False] * (positions - 1),
                rationale=None,
                patch_grid=list(GRID),
                metric_deletion=float(rng.uniform()),
                curve_deletion=list(np.linspace(1, 0, positions)),
                curve_insertion=list(np.linspace(0, 1, positions)),
            )
            rows.append(row)
    config = (
        f'task = "{task}"\nmethods = ["atman", "gae", "random"]\nmetrics = ["deletion"]\n'
        f'n = {N_EXAMPLES}\nseed = 0\nplugins = ["tests.bench.report.finished_runs"]\n'
    )
    summary = summary_table(task)
    return write_run(path, pd.DataFrame(rows), config, summary[summary["metric"] == "deletion"])
