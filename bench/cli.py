"""Command line: `xai-bench list | explain` (and the later verbs as they land)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from bench.errors import InputError, NotApplicableError
from bench.registry import METHODS, TASKS, UnknownNameError


def _cmd_list(args: argparse.Namespace) -> int:
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


def _parse_param(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _cmd_explain(args: argparse.Namespace) -> int:
    import bench

    model = bench.load_model(args.model, kind=args.kind)
    target = args.target
    if target is not None and model.kind != "causal-lm":
        target = int(target)
    params = dict(_parse_param(p) for p in args.param)
    explanation = bench.explain(args.method, model, args.text, target=target, **params)
    if args.json:
        print(
            json.dumps(
                {
                    "method": explanation.method,
                    "target": explanation.target,
                    "params": explanation.params,
                    "tokens": explanation.tokens,
                    "scores": explanation.scores.tolist(),
                    "cost": explanation.cost.as_dict(),
                }
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{explanation.method} on {model.name} (target: {explanation.target!r})")
    table.add_column("#", justify="right")
    table.add_column("token")
    table.add_column("score", justify="right")
    peak = np.abs(explanation.scores).max() or 1.0
    for i, (token, score) in enumerate(zip(explanation.tokens, explanation.scores, strict=True)):
        bar = "█" * int(round(8 * abs(score) / peak))
        table.add_row(str(i), token, f"{score:+.4f} {bar}")
    Console().print(table)
    cost = explanation.cost
    print(
        f"cost: {cost.seconds:.3f} s, {cost.forward_passes} forward / {cost.backward_passes} backward, "
        f"peak memory {cost.peak_memory_bytes / 2**20:.1f} MiB"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xai-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("list", help="list methods and tasks").set_defaults(run=_cmd_list)

    explain = commands.add_parser("explain", help="explain one input with one method")
    explain.add_argument("text", help="the input text")
    explain.add_argument("--model", required=True, help="local model folder or hub id")
    explain.add_argument("--method", default="atman")
    explain.add_argument("--kind", choices=["classifier", "causal-lm", "image-classifier"])
    explain.add_argument("--target", help="class index, or target text for a causal LM (default: prediction)")
    explain.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="method parameter")
    explain.add_argument("--json", action="store_true", help="print JSON instead of a table")
    explain.set_defaults(run=_cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (InputError, NotApplicableError, UnknownNameError, OSError) as error:
        print(f"xai-bench: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
