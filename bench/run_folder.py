"""The run folder: created, locked and checked before anything runs, so it can neither be written
by two runs at once nor hold rows of another config, other library versions or other weights.

- A folder that has files but no run (`config.toml` / `meta.json` / `records/`) is refused: it
  is the user's, not ours to fill.
- One run at a time: an exclusive `fcntl` lock on `DIR/.lock`, held while the run lasts and
  released by the kernel when the process ends, however it ends; a second run is refused with
  the holder's pid.
- Provenance: `meta.json` records the config hash, the library versions and a fingerprint of
  the model's weights when the run starts; a resume checks all three (a different version of a
  library that computes results is refused unless `allow_version_change`), and refuses records
  without their `config.toml` or `meta.json`.
- Every file is written to a temp name unique to its writer, then renamed (atomic).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from bench.atomic import write_atomic
from bench.errors import InputError
from bench.records import RECORDS
from bench.run_config import RunConfig
from bench.training import recorded_test_accuracy

LIBRARIES = ("torch", "transformers", "captum", "shap", "lime", "numpy", "scipy", "pandas", "pyarrow")
RESULT_LIBRARIES = ("torch", "transformers", "captum", "shap", "lime")
"""Libraries whose version changes explanation values: a resume under another one is refused."""
MODEL_ACCURACY = "model_test_accuracy"
"""meta.json key: task -> the explained model's test accuracy on it ({"accuracy", "n_test"} or None)."""
RUN_FILES = ("config.toml", "meta.json", RECORDS)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".json")
LOCK = ".lock"
_HELD: set = set()
"""The open lock files of this process (a forked worker closes its copies: `close_inherited_locks`)."""


def library_versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0]}
    for library in LIBRARIES:
        try:
            found[library] = version(library)
        except PackageNotFoundError:
            found[library] = "not installed"
    return found


def weights_fingerprint(folder: str | Path | None) -> str | None:
    """A hash of the names, sizes and modification times of a model folder's weight and config
    files (None when the model is not a local folder): retraining or replacing the weights
    under the same path changes it."""
    if folder is None or not Path(folder).is_dir():
        return None
    entries = sorted(
        (str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns)
        for path in Path(folder).rglob("*")
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES
    )
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the folder's exclusive lock for the block; refuse if another process holds it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / LOCK, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise InputError(
            f"{run_dir} is in use by pid {holder}; wait for that run to end, or use another --out"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    _HELD.add(handle)
    try:
        yield
    finally:
        _HELD.discard(handle)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def close_inherited_locks() -> None:
    """In a forked worker: close the copies of the driver's lock files without unlocking them, so
    the lock ends with the driver and never outlives it in a stray worker."""
    for handle in _HELD:
        handle.close()
    _HELD.clear()


def check_is_run_folder(run_dir: Path) -> None:
    """Refuse a folder with files of its own that holds no run."""
    if not run_dir.exists():
        return
    if not run_dir.is_dir():
        raise InputError(f"--out {run_dir} is a file, not a folder")
    present = {path.name for path in run_dir.iterdir()} - {LOCK}
    if present and not present & set(RUN_FILES):
        raise InputError(
            f"{run_dir} already holds files that are not a benchmark run ({', '.join(sorted(present)[:3])}"
            f"{', ...' if len(present) > 3 else ''}); choose an empty or new --out"
        )


def prepare(config: RunConfig, allow_version_change: bool = False) -> Path:
    """Create the run folder, or check that resuming it gives the same results: config.toml
    and meta.json (config hash, library versions). The caller holds the lock."""
    run_dir = Path(config.out)
    saved, meta_path = run_dir / "config.toml", run_dir / "meta.json"
    has_records = any((run_dir / RECORDS).glob("part-*.parquet"))
    if saved.exists():
        config.check_same_results(RunConfig.from_toml(saved), saved)
    elif has_records:
        raise InputError(
            f"{run_dir} holds records but no config.toml, so what made them is unknown; "
            "restore config.toml or start a new --out"
        )
    if meta_path.exists():
        check_meta(read_meta(meta_path), config, allow_version_change, meta_path)
    elif has_records:
        raise InputError(
            f"{run_dir} holds records but no meta.json, so their library versions are unknown; "
            "restore meta.json or start a new --out"
        )
    if not saved.exists():
        write_atomic(saved, config.to_toml())
    if not meta_path.exists():
        meta = {
            "seed": config.seed,
            "config_hash": config.identity_hash(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "platform": platform.platform(),
            "versions": library_versions(),
        }
        write_atomic(meta_path, json.dumps(meta, indent=2))
    return run_dir


def read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path} is unreadable ({error}); restore it or start a new --out") from error


def check_meta(meta: dict[str, Any], config: RunConfig, allow_version_change: bool, path: Path) -> None:
    recorded = meta.get("config_hash")
    if recorded is not None and recorded != config.identity_hash():
        raise InputError(
            f"{path} was made by another config (hash {recorded}, this one {config.identity_hash()}); "
            "config.toml was edited or replaced: restore it or start a new --out"
        )
    if allow_version_change:
        return
    now = library_versions()
    changed = [
        f"{name} {meta['versions'][name]} -> {now[name]}"
        for name in RESULT_LIBRARIES
        if name in meta.get("versions", {}) and meta["versions"][name] != now[name]
    ]
    if changed:
        raise InputError(
            f"{path.parent} was started under other library versions ({'; '.join(changed)}); resuming would "
            "mix their results: use a new --out, or --allow-version-change"
        )


def check_records(configs: list[RunConfig], records: pd.DataFrame, run_dir: Path) -> None:
    """Refuse records made for another task, seed or replacement than the config says (a
    config.toml replaced by hand, records copied in from another run); `configs` holds one
    resolved config per task of the run."""
    if not len(records):
        return
    expected = {config.task: config for config in configs}
    stray = sorted(set(records["task"].dropna()) - set(expected))
    if stray:
        raise InputError(
            f"{run_dir} holds records with task {', '.join(stray)} but its config says "
            f"{', '.join(map(repr, expected))}; they are another run's: use a new --out"
        )
    for task, group in records.groupby("task"):
        for column in ("seed", "replacement"):
            wanted = getattr(expected[task], column)
            found = set(group[column].dropna().unique()) - {wanted}
            if found:
                raise InputError(
                    f"{run_dir} holds records with {column} {', '.join(map(str, sorted(found)))} "
                    f"but its config says {wanted!r}; they are another run's: use a new --out"
                )


def check_weights(run_dir: Path, fingerprint: str | None, task: str | None = None) -> None:
    """Record the model's weight fingerprint on the first run; refuse a resume on other weights.
    A run of several tasks keeps one fingerprint per task (`task`), a run of one task one."""
    meta_path = run_dir / "meta.json"
    meta = read_meta(meta_path)
    recorded = meta if task is None else meta.setdefault("task_weights", {})
    key = "weights" if task is None else task
    if key not in recorded:
        recorded[key] = fingerprint
        write_atomic(meta_path, json.dumps(meta, indent=2))
    elif recorded[key] != fingerprint:
        raise InputError(
            f"the model's weights changed since {run_dir} was started (fingerprint {recorded[key]} -> "
            f"{fingerprint}); resuming would mix two models' rows: use a new --out"
        )


def record_model_accuracy(run_dir: Path, task: str, model_folder: str | Path | None) -> None:
    """Keep the model's test accuracy on `task` (from its metadata.json; None when it has none) in
    meta.json, keyed by task, so the report says how good the explained model is without it."""
    meta_path = run_dir / "meta.json"
    meta = read_meta(meta_path)
    accuracy = recorded_test_accuracy(model_folder, task)
    recorded = meta.setdefault(MODEL_ACCURACY, {})
    if task not in recorded or recorded[task] != accuracy:
        recorded[task] = accuracy
        write_atomic(meta_path, json.dumps(meta, indent=2))
