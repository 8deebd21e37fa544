"""`xai-bench train TASK`: fine-tune the task's default classifier once and cache it."""

from __future__ import annotations

import argparse
from dataclasses import replace


def run(args: argparse.Namespace) -> int:
    from bench.errors import InputError
    from bench.registry import TASKS
    from bench.training import TrainingSettings, read_metadata, trained_classifier

    task = TASKS.get(args.task)(data=args.data, seed=args.seed)
    if task.model_kind != "classifier":
        raise InputError(
            f"task {args.task!r} uses a {task.model_kind} model; only classifier tasks are trained"
        )
    settings = TrainingSettings(**task.training)
    overrides = {
        name: value
        for name, value in (
            ("epochs", args.epochs),
            ("n_train", args.n_train),
            ("max_length", args.max_length),
            ("learning_rate", args.learning_rate),
            ("base_model", args.base_model),
        )
        if value is not None
    }
    folder = trained_classifier(task, replace(settings, **overrides), force=args.force)
    metadata = read_metadata(folder)
    epochs, seed = metadata["settings"]["epochs"], metadata["seed"]
    print(
        f"{args.task}: test accuracy {metadata['test_accuracy']:.4f} on {metadata['n_test']} examples "
        f"(trained on {metadata['n_train']} x {epochs} epochs, seed {seed}, {metadata['train_seconds']} s)\n"
        f"model: {folder}"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="fine-tune (or reuse) a task's default classifier")
    train.add_argument("task", help="task name, e.g. spam")
    train.add_argument("--data", help="local data file or folder (default: the task's own source)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, help="default: the task's setting")
    train.add_argument("--n-train", type=int, help="training examples (default: the task's setting)")
    train.add_argument(
        "--max-length", type=int, help="training tokens per input (default: the task's setting)"
    )
    train.add_argument("--learning-rate", type=float, help="AdamW peak rate (default: the task's setting)")
    train.add_argument("--base-model", help="encoder folder or hub id (default: all-MiniLM-L6-v2)")
    train.add_argument("--force", action="store_true", help="train again even if a cached model matches")
    train.set_defaults(run=run)
