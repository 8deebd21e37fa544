"""`xai-bench explain`: one input, one method, a token/score table (or JSON)."""

from __future__ import annotations

import argparse
import json

import numpy as np


def _parse_param(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def run(args: argparse.Namespace) -> int:
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


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser("explain", help="explain one input with one method")
    explain.add_argument("text", help="the input text")
    explain.add_argument("--model", required=True, help="local model folder or hub id")
    explain.add_argument("--method", default="atman")
    explain.add_argument("--kind", choices=["classifier", "causal-lm", "image-classifier"])
    explain.add_argument("--target", help="class index, or target text for a causal LM (default: prediction)")
    explain.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="method parameter")
    explain.add_argument("--json", action="store_true", help="print JSON instead of a table")
    explain.set_defaults(run=run)
