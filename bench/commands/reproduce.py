"""`xai-bench reproduce atman-squad|atman-digits`: the AtMan paper's comparisons at small scale."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from bench.reproduce import reproduce

    reproduce(args.protocol, n=args.n, model=args.model, data=args.data, out=args.out, seed=args.seed)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "reproduce",
        help="re-run the AtMan paper's comparisons (small scale, offline by default)",
        description="atman-squad: SQuAD QA on a causal LM (default SmolLM2-135M; the paper: GPT-J-6B, "
        "`--model EleutherAI/gpt-j-6b` on a GPU), methods atman, gae, input-x-gradient, "
        "integrated-gradients (+ occlusion, shap, random), metrics mAP/mAR as means and IQMs, printed "
        "beside the paper's Table 1. atman-digits: the same on patch explanations of the digits ViT.",
    )
    parser.add_argument("protocol", choices=["atman-squad", "atman-digits"])
    parser.add_argument("--n", type=int, help="examples per method (default 10 for squad, 20 for digits)")
    parser.add_argument("--model", help="a local folder or hub id to explain instead of the default model")
    parser.add_argument(
        "--data", help="task data folder (default for squad: ../shared/data/squad if present)"
    )
    parser.add_argument("--out", help="run folder (default results/reproduce-<protocol>-<model>)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)
