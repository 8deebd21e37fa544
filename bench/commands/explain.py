"""`xai-bench explain`: one input (a text, or an image file), one method, a token/score table (or
JSON), and optionally the report's heatmap of it as HTML or PNG. A causal LM without --target
explains its greedy generation; --per-token adds a row per generated token."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from bench.commands import add_dtype_argument, add_granularity_argument
from bench.errors import InputError
from bench.models import DEFAULT_MAX_NEW_TOKENS
from bench.precision import DEFAULT_DTYPE

TOP_TOKENS = 3
"""With --per-token, the table names each generated token's most supporting prompt tokens."""


def _parse_param(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _task_example(args: argparse.Namespace):
    """(inputs, target, model) of example `--index` of a task's split as the model takes it
    (`Task.fit`); the task's default model unless --model is given, its offline copy of the data
    (`Task.local_data`, as runs read it) unless --data is given."""
    import bench
    from bench.registry import TASKS

    kind = TASKS.get(args.task)
    task = kind(data=args.data if args.data is not None else kind.local_data(), seed=args.seed)
    examples = task.examples(args.split, args.index + 1)
    if not 0 <= args.index < len(examples):
        count = f"{len(examples)} {args.split} examples"
        raise InputError(f"task {args.task!r} has {count}; --index {args.index} is out of range")
    model = bench.load_model(args.model, kind=args.kind) if args.model else task.default_model()
    model.set_dtype(args.dtype)
    (example,) = task.fit([examples[args.index]], model)
    print(f"{args.task} {args.split}[{args.index}] = {example.id}, label {example.target!r}", file=sys.stderr)
    return example.inputs, example.target, model


def _default_granularity(args: argparse.Namespace) -> str:
    from bench.registry import TASKS
    from bench.units import DEFAULT_GRANULARITY

    return TASKS.get(args.task).granularity if args.task is not None else DEFAULT_GRANULARITY


def _class_index(text: str, model) -> int:
    """A classifier's --target: a class index, or a label name from the model's config."""
    labels = {
        str(name).lower(): int(i) for i, name in (getattr(model.hf.config, "id2label", None) or {}).items()
    }
    if text.lstrip("-").isdigit():
        return int(text)
    if text.lower() in labels:
        return labels[text.lower()]
    known = ", ".join(f"{i} ({name})" for name, i in sorted(labels.items(), key=lambda item: item[1]))
    raise InputError(
        f"--target {text!r} is neither a class index nor a label of {model.name}; classes: {known}"
    )


def _refuse_an_image_file_for_a_text_model(text: str, model) -> None:
    from pathlib import Path

    from PIL import Image

    suffix = Path(text).suffix.lower()
    if suffix in Image.registered_extensions() and Path(text).expanduser().is_file():
        raise InputError(f"{text} is an image file but {model.name} is a text model ({model.kind})")


def _drawings(args: argparse.Namespace, explanation, model, inputs) -> None:
    """--html and --png: the explanation as the report draws it."""
    from bench.models import read_image
    from bench.report.explanation import write_html, write_png

    image = np.asarray(read_image(inputs)) if model.modality == "image" else None
    if args.html:
        print(f"wrote {write_html(explanation, args.html, image)}", file=sys.stderr)
    if args.png:
        print(f"wrote {write_png(explanation, args.png, image)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    import bench

    if args.task is not None:
        inputs, target, model = _task_example(args)
    elif args.text is None or args.model is None:
        raise InputError("give a text and --model, or --task (with --index) to explain a task's example")
    else:
        model = bench.load_model(args.model, kind=args.kind, dtype=args.dtype)
        inputs, target = args.text, None
        if model.modality == "text":
            _refuse_an_image_file_for_a_text_model(inputs, model)
    if args.target is not None:
        target = args.target if model.kind == "causal-lm" else _class_index(args.target, model)
    # granularity is no method parameter, but `--param granularity=word` reads as `--granularity word`;
    # unnamed, a task's example is explained in the task's own unit, as runs do (movies: sentences)
    params = {"granularity": args.granularity or _default_granularity(args)}
    params |= dict(_parse_param(p) for p in args.param)
    explanation = bench.explain(
        args.method,
        model,
        inputs,
        target=target,
        max_new_tokens=args.max_new_tokens,
        per_token=args.per_token,
        **params,
    )
    _drawings(args, explanation, model, inputs)
    if args.json:
        per_token = explanation.per_token_scores
        print(
            json.dumps(
                {
                    "method": explanation.method,
                    "target": explanation.target,
                    "params": explanation.params,
                    "granularity": explanation.granularity,
                    "dtype": model.precision,
                    "tokens": explanation.tokens,
                    "scores": explanation.scores.tolist(),
                    "target_tokens": explanation.target_tokens,
                    "per_token_scores": None if per_token is None else per_token.tolist(),
                    "cost": explanation.cost.as_dict(),
                }
            )
        )
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # model names and tokens such as [/INST] are text, not rich markup
    # a generated target is long: on its own line, not squeezed into the table's title
    Console().print(Text(f"{explanation.method} on {model.name} (target: {explanation.target!r})"))
    table = Table()
    table.add_column("#", justify="right")
    table.add_column(explanation.granularity)
    table.add_column("score", justify="right")
    peak = np.abs(explanation.scores).max() or 1.0
    for i, (token, score) in enumerate(zip(explanation.tokens, explanation.scores, strict=True)):
        bar = "█" * int(round(8 * abs(score) / peak))
        table.add_row(str(i), Text(token), f"{score:+.4f} {bar}")
    Console().print(table)
    if explanation.per_token_scores is not None:
        Console().print(_per_token_table(explanation))
    cost = explanation.cost
    memory = (
        "" if cost.peak_memory_bytes is None else f"peak memory {cost.peak_memory_bytes / 2**20:.1f} MiB, "
    )
    print(
        f"cost: {cost.seconds:.3f} s, {cost.forward_passes} forward / {cost.backward_passes} backward, "
        f"{memory}{model.precision}"
    )
    return 0


def _per_token_table(explanation):
    """A row per generated token: the prompt tokens that most support it, with their scores."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"per generated token: the {TOP_TOKENS} most supporting prompt tokens"))
    table.add_column("#", justify="right")
    table.add_column("generated")
    table.add_column("prompt tokens (score)")
    removable = np.flatnonzero(~np.asarray(explanation.special_tokens, dtype=bool))
    for t, (token, scores) in enumerate(
        zip(explanation.target_tokens, explanation.per_token_scores, strict=True)
    ):
        top = removable[np.argsort(-scores[removable], kind="stable")[:TOP_TOKENS]]
        table.add_row(
            str(t), Text(token), Text(", ".join(f"{explanation.tokens[i]} ({scores[i]:+.4f})" for i in top))
        )
    return table


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser("explain", help="explain one input with one method")
    explain.add_argument(
        "text", nargs="?", help="the input text, or an image file for an image model (or use --task)"
    )
    explain.add_argument(
        "--model", help="local model folder or hub id (default with --task: the task's model)"
    )
    explain.add_argument("--task", help="explain an example of this task instead of a text")
    explain.add_argument("--index", type=int, default=0, help="which example of the task's split")
    explain.add_argument("--split", default="test", help="the task's split (default: test)")
    explain.add_argument("--data", help="the task's local data file or folder")
    explain.add_argument("--seed", type=int, default=0, help="the task's seed")
    explain.add_argument("--method", default="atman")
    explain.add_argument("--kind", choices=["classifier", "causal-lm", "image-classifier"])
    explain.add_argument(
        "--target",
        help="class index, or target text for a causal LM (default: the predicted class, or the "
        "causal LM's greedy generation)",
    )
    explain.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="method parameter")
    explain.add_argument(
        "--max-new-tokens",
        type=int,
        default=DEFAULT_MAX_NEW_TOKENS,
        metavar="N",
        help="a causal LM without --target explains its greedy generation of up to N tokens "
        f"(default {DEFAULT_MAX_NEW_TOKENS}; it stops at its end token)",
    )
    explain.add_argument(
        "--per-token",
        action="store_true",
        help="causal LM: also explain each target token alone (a generated tokens x prompt tokens matrix)",
    )
    add_granularity_argument(explain)
    explain.add_argument("--json", action="store_true", help="print JSON instead of a table")
    explain.add_argument(
        "--html", metavar="FILE", help="also write the explanation's heatmap as an HTML page"
    )
    explain.add_argument("--png", metavar="FILE", help="also write the explanation's heatmap as a PNG image")
    add_dtype_argument(explain, default=DEFAULT_DTYPE)
    explain.set_defaults(run=run)
