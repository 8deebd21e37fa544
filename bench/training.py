"""Fine-tune a text classifier (encoder + classification head) on a task, once, and cache it.

A benchmark of explanations needs a model that is right for the right reasons often enough
for explanations to mean something, so every task's default classifier is fine-tuned here on
the task's train split, scored on its test split, and stored with that accuracy and everything
needed to reproduce it (`metadata.json`). The cache key is (task, base model, seed); a second
request with the same settings, data and task parameters loads the stored model instead of
training again, and any other request retrains it.
"""

from __future__ import annotations

import json
import platform
import random
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.defaults import ENCODER, atomic_dir, base_model_path, trained_model_dir
from bench.errors import InputError
from bench.models import Model, load_model

if TYPE_CHECKING:
    from bench.task import Task

METADATA = "metadata.json"


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the trained weights besides the task's data and seed."""

    base_model: str = ENCODER
    n_train: int | None = 1000
    """Training examples (the first n of the seeded train order); None = the whole split."""
    epochs: int = 2
    max_length: int = 64
    """Training inputs are truncated to this many tokens (explanations use the full text)."""
    batch_size: int = 16
    learning_rate: float = 5e-5


def _library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in ("torch", "transformers", "numpy", "xai-bench")},
    }


def _seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _texts_and_labels(
    task: Task, split: str, n: int | None, fit_to: Model | None = None
) -> tuple[list[str], list[int]]:
    """A split's texts and labels; with `fit_to`, shortened as the benchmark gives them to that
    model (`Task.fit`), so the test accuracy is that of the inputs explained."""
    examples = task.examples(split, n)
    if fit_to is not None:
        examples = task.fit(examples, fit_to)
    if not examples:
        raise InputError(f"task {task.name!r} has no {split} examples to train or evaluate on")
    return [example.inputs for example in examples], [int(example.target) for example in examples]


@torch.no_grad()
def accuracy(
    model: Model, texts: list[str], labels: list[int], max_length: int, batch_size: int = 64
) -> float:
    """Share of `texts` whose predicted class (inputs truncated to `max_length`) equals the label."""
    model.hf.eval()
    correct = 0
    for start in range(0, len(texts), batch_size):
        batch = model.tokenizer(
            texts[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(model.device)
        predicted = model.hf(**batch).logits.argmax(-1).cpu()
        correct += int((predicted == torch.tensor(labels[start : start + batch_size])).sum())
    return correct / len(texts)


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        disable=not enabled,
    )


def train_classifier(task: Task, settings: TrainingSettings, progress: bool = True) -> Path:
    """Fine-tune `settings.base_model` on the task's train split and save it to the cache.

    Returns the model folder (HF model + tokenizer + `metadata.json` with the test accuracy).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if task.model_kind != "classifier":
        raise InputError(f"task {task.name!r} is explained with a {task.model_kind} model, not a classifier")
    generator = _seed_everything(task.seed)
    texts, labels = _texts_and_labels(task, "train", settings.n_train)
    source = base_model_path(settings.base_model)
    tokenizer = AutoTokenizer.from_pretrained(source)
    hf = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=len(task.labels),
        id2label=dict(enumerate(task.labels)),
        label2id={label: i for i, label in enumerate(task.labels)},
    )
    optimizer = torch.optim.AdamW(hf.parameters(), lr=settings.learning_rate)
    steps_per_epoch = -(-len(texts) // settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total_steps)
    started = time.perf_counter()
    hf.train()
    with _progress(progress) as bar:
        job = bar.add_task(f"training {task.name} on {settings.base_model}", total=total_steps, loss=0.0)
        for _ in range(settings.epochs):
            order = torch.randperm(len(texts), generator=generator).tolist()
            for start in range(0, len(order), settings.batch_size):
                rows = order[start : start + settings.batch_size]
                batch = tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=settings.max_length,
                    return_tensors="pt",
                )
                loss = hf(**batch, labels=torch.tensor([labels[i] for i in rows])).loss
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                bar.update(job, advance=1, loss=loss.item())
    train_seconds = time.perf_counter() - started
    model = Model(hf, tokenizer, kind="classifier", name=f"{task.name}/{settings.base_model}")
    test_texts, test_labels = _texts_and_labels(task, "test", None, fit_to=model)
    metadata = {
        "task": task.name,
        **_training_data(task),
        "seed": task.seed,
        "settings": asdict(settings),
        "base_model_source": source,
        "labels": list(task.labels),
        "n_train": len(texts),
        "n_test": len(test_texts),
        "test_accuracy": accuracy(model, test_texts, test_labels, model.max_length),
        "train_seconds": round(train_seconds, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _library_versions(),
    }
    target = trained_model_dir(task.name, settings.base_model, task.seed)
    with atomic_dir(target) as staging:
        hf.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    return target


def _training_data(task: Task) -> dict[str, Any]:
    """What decides the task's examples besides its seed: the data source (resolved, so two
    spellings of one folder match) and the task's parameters (e.g. movies' max_words)."""
    data = str(Path(task.data).resolve()) if task.data is not None else None
    return {"data": data, "task_params": task.params}


REBUILD = "it is a cached model (under XAI_BENCH_CACHE): delete {folder} and it is rebuilt on next use"


def read_metadata(folder: Path) -> dict[str, Any] | None:
    path = folder / METADATA
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path} is unreadable ({error}); {REBUILD.format(folder=folder)}") from error


def recorded_test_accuracy(folder: str | Path | None, task: str) -> dict[str, Any] | None:
    """The test accuracy on `task` that a trained classifier's `metadata.json` records, as
    {"accuracy", "n_test"}, so a run can show how good its model is without loading it; None for a
    model that is not a local folder, has no metadata (a model given by path) or was trained on
    another task (its accuracy says nothing about this one)."""
    metadata = read_metadata(Path(folder)) if folder is not None else None
    if metadata is None or metadata.get("task") != task or "test_accuracy" not in metadata:
        return None
    return {"accuracy": metadata["test_accuracy"], "n_test": metadata.get("n_test")}


def trained_classifier(
    task: Task, settings: TrainingSettings | None = None, force: bool = False, progress: bool = True
) -> Path:
    """The cached classifier folder for (task, base model, seed), trained first if needed.

    With `settings` None, a cached model for the key is reused (else the task's default
    settings train one); with explicit settings, a cached model trained differently is replaced.
    Either way a model trained on other data or task parameters is replaced.
    """
    requested = settings or TrainingSettings(**getattr(task, "training", {}))
    folder = trained_model_dir(task.name, requested.base_model, task.seed)
    metadata = read_metadata(folder)
    cached = (
        metadata is not None
        and (settings is None or metadata["settings"] == asdict(settings))
        and {key: metadata.get(key) for key in ("data", "task_params")} == _training_data(task)
    )
    if cached and not force:
        return folder
    return train_classifier(task, requested, progress=progress)


def load_trained(folder: Path) -> Model:
    """A cached classifier as a `Model`, named '<task>/<base model>' from its metadata."""
    try:
        model = load_model(folder, kind="classifier")
    except InputError as error:
        raise InputError(f"{error}; {REBUILD.format(folder=folder)}") from error
    metadata = read_metadata(folder) or {}
    if metadata:
        model.name = f"{metadata['task']}/{metadata['settings']['base_model']}"
    return model
