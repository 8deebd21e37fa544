"""`xai-bench list`: the registered methods (with what they apply to) and tasks."""

from __future__ import annotations

import argparse

from bench.registry import METHODS, TASKS


def run(args: argparse.Namespace) -> int:
    print("methods:")
    for name, cls in METHODS.items():
        flags = (("gradients", cls.needs_gradients), ("attention", cls.needs_attention))
        needs = [need for need, flag in flags if flag]
        print(
            f"  {name:<22} modalities: {','.join(cls.modalities()):<11} "
            f"models: {','.join(cls.model_kinds):<40} needs: {','.join(needs) or '-'}"
        )
    print("tasks:")
    for name, cls in TASKS.items():
        print(f"  {name:<22} {(cls.__doc__ or '').strip().splitlines()[0] if cls.__doc__ else ''}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("list", help="list methods and tasks").set_defaults(run=run)
