"""CLI subcommands: one module each, exposing `register(subparsers)`; bench.cli finds them all."""

import argparse


def add_dtype_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """`--dtype`: the precision of the model's passes (bench/precision.py), for commands that run one."""
    from bench.precision import DTYPES

    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default=default,
        help="precision of the model's passes: float32, bfloat16, or mixed (bfloat16 linear "
        "layers, float32 elsewhere); default mixed for run, float32 otherwise; see README, 'Precision'",
    )


def add_granularity_argument(parser: argparse.ArgumentParser) -> None:
    """`--granularity`: what an explanation scores and a metric removes (bench/units.py)."""
    from bench.units import GRANULARITIES

    parser.add_argument(
        "--granularity",
        choices=GRANULARITIES,
        help="what gets one score: token (images: patches), word or sentence; the default is the "
        "task's own unit (token; movies: sentence), token for a text of your own; metrics remove whole "
        "units; see README, 'Granularity'",
    )
