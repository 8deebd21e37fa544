"""`xai-bench report DIR`: figures and an HTML page for a finished run, written to DIR/report/."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from bench.report import make_report

    index = make_report(args.dir)
    print(f"report: {index.parent}/ (open {index})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="figures and an HTML report of a finished run",
        description="Reads only the run folder (config.toml, meta.json, records/, summary.csv) and writes "
        "DIR/report/: figures as PNG and PDF, heatmaps, and a self-contained index.html.",
    )
    parser.add_argument("dir", help="the run folder (the --out of `xai-bench run`)")
    parser.set_defaults(run=run)
