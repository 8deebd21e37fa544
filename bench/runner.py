"""`bench.run(config)`: the benchmark. A run multiplies a config out into shards (task x method
x a chunk of examples), runs them on an executor, writes each finished shard as one atomic part
file, and recomputes the summary from every record on disk. A run of several tasks (a suite)
writes them all into one folder, each task with its own model and resolved settings.

Resume is "skip what exists": rows already recorded for (task, method, example) are not run again,
so rerunning the same config into the same folder finishes an interrupted run. Each row seeds
torch and numpy from (seed, example, method), so its values do not depend on which executor,
worker or shard order produced it. A method that fails on an example (not applicable, NaN
scores, out of memory, any exception) becomes an error row carrying the message.
"""

from __future__ import annotations

import functools
import importlib
import random
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bench.api import get_method
from bench.breakdown import method_breakdown, print_breakdown, write_breakdown
from bench.cost import allocated_peak_bytes
from bench.evaluate import candidate_mask, evidences, planned_removals, rationale_mask, run_removals, scored
from bench.executors import make_executor
from bench.metric import Evidence
from bench.models import Model, load_model
from bench.precision import DEFAULT_DTYPE
from bench.protocol import get_protocol, metric_column, metric_of
from bench.records import CURVES, finished, read_records, write_part
from bench.registry import METRICS, TASKS
from bench.run_config import RunConfig
from bench.run_folder import (
    check_is_run_folder,
    check_records,
    check_weights,
    locked,
    prepare,
    record_model_accuracy,
    weights_fingerprint,
)
from bench.stats import summarize
from bench.summary import print_summary, write_summary
from bench.task import Task
from bench.types import Example


@dataclass(frozen=True)
class Shard:
    """One job: a method on a chunk of one task's examples (`config` is that task's)."""

    config: RunConfig
    method: str
    example_ids: tuple[str, ...]


@functools.cache
def _task_and_model(
    task: str, data: str | None, seed: int, model: str | None, plugins: tuple, dtype: str
) -> tuple:
    for module in plugins:
        importlib.import_module(module)
    instance: Task = TASKS.get(task)(data=data, seed=seed)
    loaded = load_model(model, kind=instance.model_kind) if model else instance.default_model()
    return instance, loaded.set_dtype(dtype)


def task_and_model(config: RunConfig) -> tuple[Task, Model]:
    """The task and model of a run, loaded once per process."""
    return _task_and_model(
        config.task, config.data, config.seed, config.model, tuple(config.plugins), config.dtype
    )


def model_label(config: RunConfig, model: Model) -> str:
    """The `model` column: the configured folder, else the default model's folder name, with the
    dtype when it is not float32 (a run in bfloat16 explains, in effect, another model)."""
    label = config.model or Path(model.name).name or model.name
    return label if config.dtype == DEFAULT_DTYPE else f"{label} [{config.dtype}]"


@functools.cache
def _examples(task: str, data: str | None, seed: int, plugins: tuple, split: str, n: int) -> list[Example]:
    for module in plugins:
        importlib.import_module(module)
    return TASKS.get(task)(data=data, seed=seed).examples(split, n)


def examples_of(config: RunConfig) -> list[Example]:
    """The run's examples, loaded once per process (every shard picks its own from them)."""
    return _examples(config.task, config.data, config.seed, tuple(config.plugins), config.split, config.n)


@functools.cache
def _fitted(
    task: str, data: str | None, seed: int, model: str | None, plugins: tuple, dtype: str, split: str, n: int
) -> list[Example]:
    instance, loaded = _task_and_model(task, data, seed, model, plugins, dtype)
    examples = _examples(task, data, seed, plugins, split, n)
    fitted = instance.fit(examples, loaded)
    if [example.id for example in fitted] != [example.id for example in examples]:
        raise ValueError(f"task {task!r}: fit must keep the examples' ids and order (a run plans by them)")
    return fitted


def fitted_examples_of(config: RunConfig) -> list[Example]:
    """The run's examples as its model takes them (`Task.fit`), once per process: the rows explain
    these, while planning needs only the ids, which fitting keeps, and so loads no model."""
    return _fitted(
        config.task, config.data, config.seed, config.model, tuple(config.plugins), config.dtype,
        config.split, config.n,
    )  # fmt: skip


def _seed_row(seed: int, example_id: str, method: str) -> None:
    row_seed = zlib.crc32(f"{seed}/{example_id}/{method}".encode())
    random.seed(row_seed)
    np.random.seed(row_seed)
    torch.manual_seed(row_seed)


@dataclass(frozen=True)
class Job:
    """One example of one task with the methods still to run on it, in the run's order."""

    config: RunConfig
    example_id: str
    methods: tuple[str, ...]


def jobs_of(shards: list[Shard]) -> list[Job]:
    """The shards regrouped into one job per (task, example), methods in shard order."""
    methods: dict[tuple[str, str], list[str]] = {}
    configs: dict[str, RunConfig] = {}
    for shard in shards:
        configs[shard.config.task] = shard.config
        for example_id in shard.example_ids:
            methods.setdefault((shard.config.task, example_id), []).append(shard.method)
    return [Job(configs[task], example_id, tuple(names)) for (task, example_id), names in methods.items()]


@dataclass
class _Explained:
    """A row explained but not yet scored: what its metrics read and which of them it scores."""

    method: Any
    evidences: dict[str, Evidence]
    metrics: list[str]


def _explain(
    config: RunConfig, model: Model, example: Example, method_name: str
) -> tuple[dict[str, Any], _Explained | None]:
    """A row with one method's explanation of one example (None and an error row on failure)."""
    row: dict[str, Any] = {
        "task": config.task,
        "model": model_label(config, model),
        "method": method_name,
        "example_id": example.id,
        "seed": config.seed,
        "replacement": config.replacement,
    }
    _seed_row(config.seed, example.id, method_name)
    try:
        method = get_method(method_name, **config.params.get(method_name, {}))
        method.check_applicable(model)
        encoded = model.encode(example.inputs, example.target, granularity=config.granularity)
        mask = rationale_mask(encoded, example.rationale)
        candidates = candidate_mask(encoded, example, config.token_set)
        row.update(
            target=str(encoded.target),
            tokens=list(encoded.units.texts),
            special=encoded.units.special.tolist(),
            rationale=None if mask is None else np.asarray(mask, dtype=np.int64).tolist(),
            candidates=None if candidates is None else np.asarray(candidates, dtype=bool).tolist(),
            patch_grid=None if encoded.patch_grid is None else list(encoded.patch_grid),
        )
        explanation = method.explain(model, encoded)
        row["scores"] = explanation.scores.tolist()
        row.update({f"cost_{key}": value for key, value in explanation.cost.as_dict().items()})
        if explanation.cost.peak_memory_bytes is None and example.id == examples_of(config)[0].id:
            # CPU: the allocator's peak through the profiler, which would slow every row it
            # watched; one example per method, apart from the timed call (bench.cost)
            row["cost_peak_memory_bytes"] = allocated_peak_bytes(
                lambda: method.explain(model, encoded), model.device
            )
        metrics = [m for m in config.metrics if METRICS.get(m).family != "cost"]
        if mask is None:
            metrics = [m for m in metrics if not METRICS.get(m).needs_rationale]
        read = evidences(
            explanation, model, encoded, mask, config.replacement, config.batch_size, method, candidates,
            config.protocols, rationale_stats(config, model), input_cache(config, example.id),
        )  # fmt: skip
    except Exception as error:  # noqa: BLE001 - every failure is recorded and the run goes on
        row["error"] = f"{type(error).__name__}: {error}"
        return row, None
    return row, _Explained(method, read, metrics)


def _score(
    model: Model, row: dict[str, Any], explained: _Explained, pooled: tuple[float, float] = (0.0, 0.0)
) -> dict[str, Any]:
    """The row with its metrics; `pooled` is its share (seconds, forward passes) of the removals
    run for several rows together, counted in its evaluation cost."""
    try:
        passes, start = model.passes.forward, time.perf_counter()
        values, curves = scored(explained.evidences, explained.metrics)
        row["tautological"] = [
            name
            for name in explained.metrics
            if METRICS.get(name)().tautological_for(explained.method, model)
        ]
        row["eval_seconds"] = time.perf_counter() - start + pooled[0]
        row["eval_forward_passes"] = model.passes.forward - passes + round(pooled[1])
        row.update({metric_column(key): value for key, value in values.items()})
        row.update({f"curve_{name}": curve for name, curve in curves.items() if name in CURVES})
    except Exception as error:  # noqa: BLE001 - every failure is recorded and the run goes on
        row["error"] = f"{type(error).__name__}: {error}"
    return row


def run_row(config: RunConfig, model: Model, example: Example, method_name: str) -> dict[str, Any]:
    """One record: explain one example with one method and score it; failures become errors."""
    row, explained = _explain(config, model, example, method_name)
    return row if explained is None else _score(model, row, explained)


def run_example(config: RunConfig, model: Model, example: Example, methods: tuple[str, ...]) -> list[dict]:
    """The records of several methods on one example, with their removals pooled: every method
    explains first; then the removals all their metrics will score (deletion and insertion steps,
    AOPC steps, ERASER bins: `Metric.removals`) go through the model together, in the perturber's
    batches, each distinct one once; then each row is scored from them. Each row's evaluation
    cost includes a share of that pass in proportion to the removals it planned."""
    staged = [_explain(config, model, example, name) for name in methods]
    passes, start = model.passes.forward, time.perf_counter()  # planning may run a pass (a predicted class)
    plans: dict[int, list] = {}
    for i, (_, explained) in enumerate(staged):
        if explained is not None:
            try:
                plans[i] = planned_removals(explained.evidences, explained.metrics)
            except Exception:  # noqa: BLE001, S112 - its scoring raises the same error and records it
                continue
    run_removals([planned for plan in plans.values() for planned in plan])
    seconds, forwards = time.perf_counter() - start, model.passes.forward - passes
    planned_rows = {i: sum(len(masks) for _, masks in plan) for i, plan in plans.items()}
    total = max(sum(planned_rows.values()), 1)
    shares = {i: rows / total for i, rows in planned_rows.items()}
    return [
        row
        if explained is None
        else _score(model, row, explained, (seconds * shares.get(i, 0), forwards * shares.get(i, 0)))
        for i, (row, explained) in enumerate(staged)
    ]


def run_job(job: Job) -> list[dict[str, Any]]:
    """Run one job in this process (the unit the local executor schedules)."""
    _, model = task_and_model(job.config)
    (example,) = [e for e in fitted_examples_of(job.config) if e.id == job.example_id]
    return run_example(job.config, model, example, job.methods)


def run_shard(shard: Shard, on_row=None) -> list[dict[str, Any]]:
    """Run one shard in this process (the unit the Ray executor schedules): its rows one by one,
    without pooling across methods."""
    _, model = task_and_model(shard.config)
    wanted = set(shard.example_ids)
    rows = []
    for example in fitted_examples_of(shard.config):
        if example.id in wanted:
            rows.append(run_row(shard.config, model, example, shard.method))
            if on_row is not None:
                on_row(rows[-1])
    return rows


def metric_columns(config: RunConfig) -> list[str]:
    return [metric_column(key) for key in config.metric_keys() if metric_of(key).family != "cost"]


_INPUT_CACHES: dict[tuple[str, str], dict[str, Any]] = {}


def input_cache(config: RunConfig, example_id: str) -> dict[str, Any]:
    """What the metrics of every method's row of one example share (`Evidence.input_cache`:
    the unperturbed and leave-one-out passes, fixed subsets' drops, perturbers with their KV
    caches), kept for the run in this process."""
    return _INPUT_CACHES.setdefault((config.identity_hash(), example_id), {})


_RATIONALE_STATS: dict[str, tuple[float, float] | None] = {}


def rationale_stats(config: RunConfig, model: Model) -> tuple[float, float] | None:
    """(mean |rationale|, mean |rationale| / |candidates|) in units over the run's examples with
    a non-empty rationale, for protocols whose token_f1 k comes from the dataset; computed once
    per process and only when a protocol needs it."""
    needed = "token_f1" in config.metrics and any(
        get_protocol(name).token_f1_k in ("mean", "fraction") for name in config.protocols
    )
    key = config.identity_hash()
    if needed and key not in _RATIONALE_STATS:
        lengths, fractions = [], []
        for example in fitted_examples_of(config):
            encoded = model.encode(example.inputs, example.target, granularity=config.granularity)
            mask = rationale_mask(encoded, example.rationale)
            if mask is None:
                continue
            candidates = candidate_mask(encoded, example, config.token_set)
            scored = ~encoded.units.special
            if candidates is not None:
                scored &= np.asarray(candidates, dtype=bool)
            if mask[scored].any():
                lengths.append(float(mask[scored].sum()))
                fractions.append(float(mask[scored].mean()))
        _RATIONALE_STATS[key] = (float(np.mean(lengths)), float(np.mean(fractions))) if lengths else None
    return _RATIONALE_STATS.get(key)


def plan(config: RunConfig, done: set[tuple[str, str, str]]) -> list[Shard]:
    """The shards still to run for one task's config: per method, its unrecorded examples in
    chunks of `shard_size`."""
    ids = [example.id for example in examples_of(config)]
    shards = []
    for method in config.methods:
        todo = [i for i in ids if (config.task, method, i) not in done]
        for start in range(0, len(todo), config.shard_size):
            shards.append(Shard(config, method, tuple(todo[start : start + config.shard_size])))
    return shards


def run(config: RunConfig | dict | str | Path | None = None, console: Console | None = None) -> pd.DataFrame:
    """Run (or resume) a benchmark and return its summary table (also in DIR/summary.csv).

    `config` is a RunConfig, a dict of its fields, or a TOML file path; None is the default run.
    """
    if config is None:
        config = RunConfig()
    elif isinstance(config, dict):
        config = RunConfig(**config)
    elif isinstance(config, str | Path):
        config = RunConfig.from_toml(config)
    config = config.resolved()
    console = console or Console(stderr=True, quiet=config.quiet, markup=False)
    run_dir = Path(config.out)
    check_is_run_folder(run_dir)
    with locked(run_dir):
        try:
            return _run_locked(config, run_dir, console)
        finally:
            _INPUT_CACHES.clear()


def _run_locked(config: RunConfig, run_dir: Path, console: Console) -> pd.DataFrame:
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = stages.get(name, 0.0) + now - clock
        clock = now

    prepare(config, config.allow_version_change)
    tasks = config.task_configs()
    records = read_records(run_dir)
    check_records(tasks, records, run_dir)
    retried = int(records["error"].notna().sum()) if config.retry_errors and len(records) else 0
    if retried:
        console.print(f"retrying {retried} error rows")
    done = finished(records, retry_errors=config.retry_errors)
    shards = []
    for task in tasks:
        available = len(examples_of(task))
        if available < task.n:
            console.print(
                f"the {task.task} {task.split} split has {available} examples: "
                f"running {available} of n = {task.n}"
            )
        shards += plan(task, done)
    stage("reading the run folder and examples")
    if shards:
        pending = {shard.config.task for shard in shards}
        for task in [t for t in tasks if t.task in pending]:
            _, model = task_and_model(task)  # load (or train) each model once before any worker needs it
            check_weights(run_dir, weights_fingerprint(model.folder), task.task if len(tasks) > 1 else None)
            record_model_accuracy(run_dir, task.task, model.folder)
        stage("loading the models" if len(tasks) > 1 else "loading the model")
        _execute(config, shards, run_dir, metric_columns(config), console)
        stage("explaining and scoring")
    records = read_records(run_dir)
    keys = config.metric_keys()
    summary = summarize(records, keys, seed=config.seed)
    skipped = config.skipped_methods()
    write_summary(run_dir, summary, keys, records, skipped)
    stage("summary")
    errors = int(records["error"].notna().sum()) if len(records) else 0
    breakdown = method_breakdown(records)
    write_breakdown(run_dir, breakdown, stages)
    print_summary(summary, keys, Console(quiet=config.quiet, markup=False))
    print_breakdown(breakdown, stages, console)
    for name, reason in skipped.items():
        console.print(f"{name} was skipped: {reason}")
    if errors:
        console.print(f"{errors} of {len(records)} rows are errors (see the `error` column of the records)")
    console.print(f"results: {run_dir}")
    return summary


def _execute(
    config: RunConfig, shards: list[Shard], run_dir: Path, columns: list[str], console: Console
) -> None:
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=config.quiet or not console.is_terminal,
    )
    todo: dict[tuple[str, str], int] = {}
    for shard in shards:
        key = (shard.config.task, shard.method)
        todo[key] = todo.get(key, 0) + len(shard.example_ids)
    bars = {key: progress.add_task(" · ".join(key), total=n) for key, n in todo.items()}
    everything = " + ".join(dict.fromkeys(task for task, _ in todo))
    overall = progress.add_task(f"{everything} · all methods", total=sum(todo.values()))

    def on_row(row: dict) -> None:
        progress.advance(bars[row["task"], row["method"]], 1)
        progress.advance(overall, 1)

    def on_rows(rows: list[dict], rows_reported: bool) -> None:
        write_part(run_dir, rows, columns)
        if not rows_reported:
            for row in rows:
                on_row(row)

    with progress:
        make_executor(config).map(shards, on_row, on_rows)
