"""CLI subcommands: one module each, exposing `register(subparsers)`; bench.cli finds them all."""
