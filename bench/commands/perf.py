"""`xai-bench perf`: the cost benchmark of bench/perf.py."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    from bench import perf

    parser = commands.add_parser("perf", help="measure AtMan's cost against its floor and its peers")
    perf.add_arguments(parser)
    parser.set_defaults(run=perf.run)
