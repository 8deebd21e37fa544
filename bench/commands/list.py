"""`xai-bench list`: the registered methods (with what they apply to), tasks, metrics (family,
direction, modalities, the protocol settings they read), suites and evaluation protocols."""

from __future__ import annotations

import argparse

from bench.evaluate import DEFAULT_FAMILIES
from bench.registry import METHODS, METRICS, PROTOCOLS, TASKS
from bench.suites import suite_names, suite_tasks


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
    print("suites (--suite):")
    for name in suite_names():
        print(f"  {name:<22} {', '.join(suite_tasks(name))}")
    print(
        f"metrics (a run scores the families {', '.join(DEFAULT_FAMILIES)} unless --families says otherwise):"
    )
    for name, cls in METRICS.items():
        direction = "higher" if cls.higher_is_better else "lower"
        governed = f"  protocol: {','.join(cls.protocol_settings)}" if cls.protocol_settings else ""
        print(
            f"  {name:<26} {cls.family:<13} {direction} is better  "
            f"modalities: {','.join(cls.modalities)}{governed}"
        )
    print("protocols (--protocol):")
    for name, protocol in PROTOCOLS.items():
        print(f"  {name:<22} {protocol.reference}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("list", help="list methods, tasks, suites, metrics and protocols")
    parser.set_defaults(run=run)
