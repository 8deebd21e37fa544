"""Command line: `xai-bench <command>`; each command lives in its own module of bench/commands/."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import bench.commands
from bench.errors import InputError, NotApplicableError
from bench.registry import UnknownNameError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xai-bench", description="Benchmark explanation methods.")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="let transformers print its load reports and weight-loading bars (quiet by default)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in pkgutil.iter_modules(bench.commands.__path__):
        importlib.import_module(f"bench.commands.{module.name}").register(commands)
    return parser


def quiet_transformers() -> None:
    """Keep transformers' load reports ("LOAD REPORT ... MISSING classifier.weight": expected
    for a fresh head) and its loading and saving bars off the terminal; its errors still show.
    Our own progress bars (runs, training) are rich's and stay."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.verbose:
        quiet_transformers()
    try:
        return args.run(args)
    except (InputError, NotApplicableError, UnknownNameError, OSError) as error:
        print(f"xai-bench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # finished rows are on disk: the same command resumes a run
        print("xai-bench: interrupted; rerun the same command to resume a run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
