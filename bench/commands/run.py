"""`xai-bench run`: run (or resume) a benchmark; with no arguments, the default benchmark."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, replace

from bench.commands import add_dtype_argument, add_granularity_argument
from bench.errors import InputError
from bench.run_config import DEFAULT_N, DEFAULT_TASK, dated_name
from bench.suites import SUITES, suite_names, suite_tasks


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            "an empty list; name at least one, or leave the flag out for the default"
        )
    return names


def run(args: argparse.Namespace) -> int:
    from bench.run_config import RunConfig
    from bench.runner import run as run_benchmark

    config = RunConfig.from_toml(args.config) if args.config else RunConfig()
    from_file = [p for p in config.plugins if p not in (args.plugins or [])]
    if from_file and not args.allow_plugins:
        raise InputError(
            f"{args.config} imports the plugin modules {', '.join(from_file)}, which run their code; "
            "if you trust them, rerun with --allow-plugins (or name them with --plugins)"
        )
    given = {f.name: getattr(args, f.name, None) for f in fields(RunConfig)}
    if args.suite is not None:
        if args.task is not None:
            raise InputError("--suite and --task both name the tasks; give one of them")
        given["task"] = suite_tasks(args.suite)
        if args.name is None and args.out is None:
            given["name"] = dated_name(args.suite)
    elif args.task is not None:
        given["task"] = args.task if len(args.task) > 1 else args.task[0]
    config = replace(config, **{key: value for key, value in given.items() if value is not None})
    if config.plugins:
        print(f"importing plugin modules: {', '.join(config.plugins)}", file=sys.stderr)
    config = config.resolved()  # its `out` is where the report goes
    run_benchmark(config)
    if not args.no_report:
        from bench.report import make_report

        print(f"report: {make_report(config.out)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run or resume a benchmark (no arguments: the default benchmark)",
        description="Run methods x metrics on a task's examples; results go to --out "
        "(default results/<name>/). Rerunning into the same folder resumes.",
    )
    parser.add_argument("--config", help="a TOML run config (flags given here override it)")
    parser.add_argument(
        "--task",
        type=_names,
        help=f"task name (default {DEFAULT_TASK}); several, comma-separated, run into one folder",
    )
    parser.add_argument(
        "--suite",
        choices=suite_names(),
        help="a named list of tasks (bench/suites.py): "
        + "; ".join(f"{name}: {', '.join(tasks)}" for name, tasks in SUITES.items())
        + "; all: every task",
    )
    parser.add_argument("--methods", type=_names, help="comma-separated (default: every applicable method)")
    parser.add_argument("--metrics", type=_names, help="comma-separated (default: every applicable metric)")
    parser.add_argument("--n", type=int, help=f"examples per method (default {DEFAULT_N})")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--split", help="task split (default test)")
    parser.add_argument("--data", help="local data path of the task (default: its offline copy if present)")
    parser.add_argument("--model", help="local model folder (default: the task's default model)")
    parser.add_argument(
        "--replacement", help="mask | pad | unk | delete (images: black | zero | mean | blur)"
    )
    parser.add_argument(
        "--token-set",
        dest="token_set",
        choices=["context", "prompt"],
        help="positions plausibility metrics score: the task's candidates (default; squad_qa: the "
        "context passage) or every position of the prompt",
    )
    parser.add_argument(
        "--protocol",
        "--protocols",
        dest="protocols",
        type=_names,
        help="evaluation protocols, comma-separated: xai-bench (default) | eraser | ferret; the "
        "protocol-governed metrics are scored under each (see README, 'Evaluation protocols')",
    )
    parser.add_argument(
        "--families",
        type=_names,
        help="metric families: names replace the defaults (faithfulness, plausibility, complexity, "
        "cost), +name adds one, e.g. +robustness (re-explains each input; opt-in)",
    )
    add_dtype_argument(parser)
    add_granularity_argument(parser)
    parser.add_argument("--sanity", action="store_true", default=None, help="add the randomisation check")
    parser.add_argument("--out", help="run folder (default results/<name>)")
    parser.add_argument("--name", help="run name (default <task>-<date>)")
    parser.add_argument("--executor", choices=["local", "ray"])
    parser.add_argument(
        "--workers",
        type=int,
        help="local executor: worker processes, one thread each (default: one per CPU core; 1: in "
        "this process on torch's threads)",
    )
    parser.add_argument("--address", help="Ray cluster address (default: start a local one)")
    parser.add_argument("--batch-size", dest="batch_size", type=int, help="rows per forward pass in metrics")
    parser.add_argument(
        "--shard-size", dest="shard_size", type=int, help="ray executor: examples per job and part file"
    )
    parser.add_argument("--plugins", type=_names, help="modules to import first (your own tasks/methods)")
    parser.add_argument(
        "--allow-plugins",
        dest="allow_plugins",
        action="store_true",
        help="import the plugin modules a --config file names (they run their code)",
    )
    parser.add_argument("--quiet", action="store_true", default=None)
    parser.add_argument(
        "--no-report",
        dest="no_report",
        action="store_true",
        help="do not write the HTML report (DIR/report/index.html) at the end; `xai-bench report DIR` "
        "writes it later",
    )
    parser.add_argument(
        "--retry-errors",
        dest="retry_errors",
        action="store_true",
        default=None,
        help="recompute the rows recorded as errors (a later success replaces the error row)",
    )
    parser.add_argument(
        "--allow-version-change",
        dest="allow_version_change",
        action="store_true",
        default=None,
        help="resume although a library that computes results changed version since the run started",
    )
    parser.set_defaults(run=run)
