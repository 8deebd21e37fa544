"""`xai-bench reproduce atman-squad|atman-digits`: the AtMan paper's comparisons, offline by default."""

from __future__ import annotations

import argparse

from bench.commands import add_dtype_argument
from bench.precision import DEFAULT_DTYPE


def run(args: argparse.Namespace) -> int:
    from bench.reproduce import reproduce

    reproduce(
        args.protocol,
        n=args.n,
        model=args.model,
        data=args.data,
        out=args.out,
        seed=args.seed,
        extra_methods=args.extra_methods,
        token_set=args.token_set,
        dtype=args.dtype,
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reproduce",
        help="re-run the AtMan paper's comparisons (offline by default)",
        description="atman-squad: SQuAD QA on a causal LM (default SmolLM2-135M; the paper: GPT-J-6B, "
        "`--model EleutherAI/gpt-j-6b` on a GPU), methods atman, gae (Chefer), input-x-gradient, "
        "integrated-gradients and random with the official code's settings, mAP/mAR with 95%% CIs, "
        "paired-test ranks and IQMs, printed beside the paper's Table 1. atman-digits: the same on "
        "patch explanations of the digits ViT.",
    )
    parser.add_argument("protocol", choices=["atman-squad", "atman-digits"])
    parser.add_argument("--n", type=int, help="examples per method (default 100)")
    parser.add_argument("--model", help="a local folder or hub id to explain instead of the default model")
    parser.add_argument(
        "--data", help="task data folder (default for squad: ../shared/data/squad if present)"
    )
    parser.add_argument("--out", help="run folder (default results/reproduce-<protocol>-<model>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--extra-methods", action="store_true", help="also run occlusion and shap (not in the paper's table)"
    )
    parser.add_argument(
        "--token-set",
        choices=["context", "prompt"],
        help="positions mAP/mAR score (default context: SQuAD's context passage, our reading of the "
        "paper; prompt: every prompt token)",
    )
    add_dtype_argument(parser, default=DEFAULT_DTYPE)
    parser.set_defaults(run=run)
