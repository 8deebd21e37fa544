"""A benchmark run's configuration: what to run (task, methods, metrics, examples, seed,
replacement, ...) and how (output folder, executor). It is saved as DIR/config.toml; a later
run into the same DIR must ask for the same results (the execution fields may differ)."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import tomli_w

from bench.errors import InputError
from bench.evaluate import check_token_set, chosen_families, default_metrics
from bench.perturbation import IMAGE_REPLACEMENTS, TEXT_REPLACEMENTS
from bench.precision import DEFAULT_DTYPE, RUN_DTYPE, check_dtype
from bench.protocol import DEFAULT_PROTOCOL, check_protocols, metric_keys
from bench.registry import METHODS, METRICS, TASKS
from bench.units import DEFAULT_GRANULARITY, check_granularity

DEFAULT_TASK = "spam"
DEFAULT_N = 20
"""Examples per method of the default run (`xai-bench run` without arguments): 1 min 53 s on 2
CPU cores with the 18 text methods that run here, the default families in mixed precision and
the report (README, 'How long a run takes'). n = 20 is the smallest round number at which the
paired tests can separate methods: with 153 Holm-corrected pairs an exact two-sided Wilcoxon p
is at least 2 / 2**n, so below n = 13 every method would be reported as tied."""
EXECUTION_FIELDS = (
    "out", "name", "executor", "workers", "address", "batch_size", "shard_size", "cpus", "gpus", "quiet",
    "retry_errors", "allow_version_change",
)  # fmt: skip
"""Fields that change how a run executes but not its results: free to differ on resume."""
ADDED_LATER = {"dtype": DEFAULT_DTYPE, "granularity": DEFAULT_GRANULARITY}
"""Fields added after run folders were recorded, at the value those runs had: a run folder's
config.toml without them is read with these values, and the identity leaves them out at these
values, so the folders made before them keep their config hash."""


def dated_name(label: str) -> str:
    """A run's default name: what it runs and today's date (UTC), e.g. spam-20261205."""
    return f"{label}-{datetime.now(UTC):%Y%m%d}"


@dataclass
class RunConfig:
    task: str | list[str] = DEFAULT_TASK
    """A task, or several into one folder (a suite; `--suite text` names one from bench/suites.py),
    each with its own default model, data, replacement and default metrics."""
    methods: list[str] = field(default_factory=list)
    """Empty: every registered method that applies to the task's model kind."""
    metrics: list[str] = field(default_factory=list)
    """Empty: every metric of `families` (plausibility when the task has rationales)."""
    n: int = DEFAULT_N
    seed: int = 0
    split: str = "test"
    data: str | dict[str, str] | None = None
    """A local data path (several tasks: a table {task: path}); unset, a task reads its offline
    copy under ../shared/data when this machine has one, else its own default (the hub)."""
    model: str | None = None
    """A local model folder; default: the task's default model."""
    replacement: str | None = None
    """How removed tokens are filled (mask | pad | unk | delete; images black | zero | mean | blur)."""
    token_set: str = "context"
    """Which positions plausibility metrics score: the task's candidates (`context`: SQuAD's
    context passage; every position for tasks that name none) or every position (`prompt`)."""
    protocols: list[str] = field(default_factory=lambda: [DEFAULT_PROTOCOL])
    """Evaluation protocols (`bench/protocols/`: xai-bench, eraser, ferret): every metric is scored
    under the first, the protocol-governed ones under each further one too (`metric@protocol`)."""
    families: list[str] = field(default_factory=list)
    """Metric families when `metrics` is empty: names replace the defaults (faithfulness,
    plausibility, complexity, cost), `+name` adds one (`+robustness`, which re-explains inputs)."""
    dtype: str = RUN_DTYPE
    """The precision of the model's passes: float32 | bfloat16 | mixed (bench/precision.py; mixed
    by default, measured to keep every method's ranking). A run folder's config recorded before
    this setting existed ran in float32."""
    granularity: str | None = None
    """What an explanation scores and a metric removes: token | word | sentence (bench/units.py);
    unset, each task's default (`Task.granularity`: token; movies: sentence); image tasks explain
    patches (token)."""
    sanity: bool = False
    """Also run the model-randomisation check (re-runs every method on a re-initialised model)."""
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Method parameters: {method: {parameter: value}}."""
    plugins: list[str] = field(default_factory=list)
    """Modules imported before the registries are read, e.g. to register a task of your own."""
    out: str | None = None
    name: str | None = None
    executor: str = "local"
    workers: int = 0
    """The local executor's worker processes, one thread each (bench/executors.py); 0 = one per
    CPU core on Linux (elsewhere 1), 1 = in this process on torch's default threads."""
    address: str | None = None
    batch_size: int = 64
    shard_size: int = 10
    """The Ray executor's examples per job (one method's); each finished job is one atomic part
    file. The local executor's jobs are one example each, with every method."""
    cpus: float = 1
    gpus: float = 0
    quiet: bool = False
    retry_errors: bool = False
    """Recompute the rows recorded as errors (out of memory, a bad setting since fixed)."""
    allow_version_change: bool = False
    """Resume although torch, transformers, captum, shap or lime changed version since the start."""

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        try:
            with open(path, "rb") as file:
                values = tomllib.load(file)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"{path} is not valid TOML: {error}") from error
        if (Path(path).parent / "meta.json").exists():  # a run folder's own config
            values = {**ADDED_LATER, **values}
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise InputError(f"{path}: unknown run settings {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_toml(self) -> str:
        return tomli_w.dumps({key: value for key, value in asdict(self).items() if value is not None})

    def check_values(self) -> None:
        """Types and ranges of every setting (a TOML file can hold anything), before any use."""
        for name in ("methods", "metrics", "plugins", "protocols", "families"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
                raise InputError(f'{name} must be a list of names, e.g. {name} = ["a", "b"]; got {value!r}')
        for name, low in (("n", 1), ("seed", 0), ("workers", 0), ("batch_size", 1), ("shard_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{name} must be an integer >= {low}; got {value!r}")
        for name in ("sanity", "quiet", "retry_errors", "allow_version_change"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be true or false; got {getattr(self, name)!r}")
        for name in ("split", "token_set", "executor", "dtype"):
            if not isinstance(getattr(self, name), str):
                raise InputError(f"{name} must be a string; got {getattr(self, name)!r}")
        for name in ("model", "replacement", "out", "name", "address", "granularity"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise InputError(f"{name} must be a string; got {getattr(self, name)!r}")
        tasks = [self.task] if isinstance(self.task, str) else self.task
        if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and t for t in tasks):
            raise InputError(f'task must be a name or a list of names, e.g. task = "spam"; got {self.task!r}')
        data = self.data if isinstance(self.data, dict) else {"": self.data}
        if not all(isinstance(path, str | None) for path in data.values()):
            raise InputError(
                f'data must be a path or a table of paths ([data] sst2 = "path"); got {self.data!r}'
            )
        if not isinstance(self.params, dict) or not all(isinstance(v, dict) for v in self.params.values()):
            raise InputError(
                "params must map method names to tables: [params.atman] suppression_factor = 0.9"
            )

    def task_names(self) -> list[str]:
        """The run's tasks, each once, in the order given."""
        return list(dict.fromkeys([self.task] if isinstance(self.task, str) else self.task))

    def resolved(self) -> RunConfig:
        """A copy with every default made explicit, checked against the registries, with each
        method built from its parameters (a bad name or value fails here, not on every row).
        Several tasks resolve each task on its own (`task_configs`) and keep the union of their
        methods and metrics; every task runs the ones that apply to it."""
        import importlib

        self.check_values()
        for module in self.plugins:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise InputError(f"plugin module {module!r} cannot be imported: {error}") from error
        tasks = self.task_names()
        if len(tasks) > 1:
            return self._resolved_suite(tasks)
        task = TASKS.get(tasks[0])
        methods = self.methods or [
            name
            for name, method in METHODS.items()
            if task.model_kind in method.model_kinds and method.unavailable() is None
        ]
        for name in methods:
            METHODS.get(name)
        for name, params in self.params.items():
            if name not in methods:
                raise InputError(
                    f"[params.{name}] names a method this run does not run ({', '.join(methods)})"
                )
            METHODS.get(name)(**params)
        families = chosen_families([*self.families, *(["+sanity"] if self.sanity else [])])
        metrics = self.metrics or default_metrics(task.has_rationale, families, True, task.modality)
        for name in metrics:
            if task.modality not in METRICS.get(name).modalities:
                raise InputError(f"metric {name!r} is not defined for {task.modality} inputs")
        granularity = self.granularity or task.granularity
        if task.modality == "image" and granularity != DEFAULT_GRANULARITY:
            raise InputError(
                f"granularity {granularity!r} applies to text; task {task.name!r} explains patches"
            )
        allowed = IMAGE_REPLACEMENTS if task.modality == "image" else TEXT_REPLACEMENTS
        replacement = self.replacement or allowed[0]
        if replacement not in allowed:
            raise InputError(
                f"replacement {replacement!r} does not apply to {task.modality} tasks; use one of {allowed}"
            )
        data = self.data.get(task.name) if isinstance(self.data, dict) else self.data
        return RunConfig(
            **{
                **asdict(self),
                **self._resolved_common(),
                "task": task.name,
                "data": data if data is not None else task.local_data(),
                "methods": list(dict.fromkeys(methods)),  # a name given twice runs once
                "metrics": list(dict.fromkeys(metrics)),
                "replacement": replacement,
                "granularity": granularity,
            }
        )

    def _resolved_common(self) -> dict[str, Any]:
        """The settings every task of a run shares, checked."""
        check_token_set(self.token_set)
        check_dtype(self.dtype)
        if self.granularity is not None:
            check_granularity(self.granularity)
        if self.executor not in ("local", "ray"):
            raise InputError(f"unknown executor {self.executor!r}; use local or ray")
        name = self.name or dated_name("+".join(self.task_names()))
        return {
            "protocols": check_protocols(self.protocols),
            "name": name,
            "out": self.out or str(Path("results") / name),
        }

    def _resolved_suite(self, tasks: list[str]) -> RunConfig:
        if self.model is not None:
            raise InputError(
                "model names one model, but the run has several tasks, each explained with its own "
                "default model; run the tasks one at a time to give each a model"
            )
        if isinstance(self.data, str):
            raise InputError(
                f'data names one path but the run has several tasks; give a table: [data] {tasks[0]} = "path"'
            )
        stray = sorted(set(self.data or {}) - set(tasks))
        if stray:
            raise InputError(f"[data] names {', '.join(stray)}, not a task of this run ({', '.join(tasks)})")
        common = self._resolved_common()
        suite = replace(self, task=tasks, **common)
        parts = suite.task_configs()
        unused = [m for m in self.methods if not any(m in part.methods for part in parts)]
        if unused:
            raise InputError(f"method(s) {', '.join(unused)} apply to none of the tasks {', '.join(tasks)}")
        data = {part.task: part.data for part in parts if part.data is not None}
        return replace(
            suite,
            methods=list(dict.fromkeys(m for part in parts for m in part.methods)),
            metrics=list(dict.fromkeys(m for part in parts for m in part.metrics)),
            data=data or None,
        )

    def task_configs(self) -> list[RunConfig]:
        """One resolved single-task config per task of the run, sharing its folder: the task's
        applicable methods (and their parameters), metrics defined for its inputs, its own data."""
        tasks = self.task_names()
        if len(tasks) == 1:
            return [self.resolved()]
        configs = []
        for name in tasks:
            task = TASKS.get(name)
            methods = [m for m in self.methods if task.model_kind in METHODS.get(m).model_kinds]
            if self.methods and not methods:
                raise InputError(f"none of the methods {', '.join(self.methods)} applies to task {name!r}")
            metrics = [
                m
                for m in self.metrics
                if task.modality in METRICS.get(m).modalities
                and (task.has_rationale or not METRICS.get(m).needs_rationale)
            ]
            if self.metrics and not metrics:
                raise InputError(f"none of the metrics {', '.join(self.metrics)} applies to task {name!r}")
            data = (self.data or {}).get(name)
            params = {m: p for m, p in self.params.items() if task.model_kind in METHODS.get(m).model_kinds}
            single = replace(self, task=name, data=data, methods=methods, metrics=metrics, params=params)
            configs.append(single.resolved())
        return configs

    def skipped_methods(self) -> dict[str, str]:
        """Registered methods that apply to a task of this (resolved) run but that it does not
        run because they cannot run here (`Method.unavailable`), with the reason."""
        kinds = {TASKS.get(name).model_kind for name in self.task_names()}
        return {
            name: reason
            for name, method in METHODS.items()
            if name not in self.methods
            and kinds & set(method.model_kinds)
            and (reason := method.unavailable()) is not None
        }

    def metric_keys(self) -> list[str]:
        """The keys of every metric value the run records (`bench.protocol.metric_keys`)."""
        return metric_keys(self.metrics, self.protocols)

    def identity(self) -> dict[str, Any]:
        """The fields that decide the results."""
        return {
            k: v
            for k, v in asdict(self).items()
            if k not in EXECUTION_FIELDS and v is not None and (k, v) not in ADDED_LATER.items()
        }

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    def check_same_results(self, saved: RunConfig, path: Path) -> None:
        """Refuse to resume a run whose results would differ from the ones already recorded."""
        mine, theirs = self.identity(), saved.identity()
        changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if changed:
            shown = [(k, theirs.get(k, ADDED_LATER.get(k)), mine.get(k, ADDED_LATER.get(k))) for k in changed]
            details = "; ".join(f"{k}: {before!r} -> {after!r}" for k, before, after in shown)
            raise InputError(
                f"{path} holds a run with a different config ({details}); "
                "use another --out (or --name), or delete the folder to start over"
            )
