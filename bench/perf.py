"""Cost benchmark: AtMan against its floor (a plain batched forward) and against its peers.

Run `python -m bench.perf` (or `xai-bench perf`). It prints its tables and writes
results/perf/: table (the headline rows), atman_grad_agreement.json, screening (atman-screened
vs exact AtMan, `bench/perf_screening.py`), precision (each dtype vs float32 per method,
`bench/perf_precision.py`), scaling.csv and the scaling plot (seconds vs sequence length).
Everything is measured in one process and quoted as ratios, because absolute seconds on shared
machines say little. Models are the MiniLM encoder the project ships (a fresh
classification head: cost does not depend on the head's weights) and a causal LM with
SmolLM2-135M's architecture built from its config (random weights: same cost, no download).
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

import bench
from bench.api import get_method
from bench.cost import measure
from bench.defaults import encoder_path
from bench.errors import NotApplicableError
from bench.models import Encoded, Model
from bench.perf_precision import precision_agreement
from bench.perf_screening import screening_agreement, screening_cost_at
from bench.perf_timing import explain_call, text_of_length, timed, timed_together
from bench.precision import DTYPES
from bench.registry import METHODS
from bench.types import Example, Explanation
from methods.atman import row_chunks
from methods.atman_grad import EXPANSIONS

SCALING_METHODS = (
    "atman-naive",
    "atman",
    "atman-prefix",
    "integrated-gradients",
    "gae",
    "occlusion",
    "shap",
    "lime",
)


@dataclass
class Measurement:
    method: str
    model: str
    tokens: int
    seconds: float
    forward_passes: int
    backward_passes: int
    peak_memory_bytes: int
    extra: dict = field(default_factory=dict)


def minilm_classifier() -> Model:
    from transformers.utils import logging

    logging.set_verbosity_error()  # the fresh head's "newly initialized" report is expected here
    model = bench.load_model(encoder_path(), kind="classifier")
    model.name = "all-MiniLM-L6-v2 (fresh head)"
    return model


def smollm_shaped_causal_lm(num_layers: int = 30) -> Model:
    """SmolLM2-135M's architecture with random weights, and the MiniLM tokenizer for its inputs."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = minilm_classifier().tokenizer
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=num_layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        pad_token_id=0,
    )
    tokenizer.model_max_length = config.max_position_embeddings  # MiniLM's 512 is not this model's limit
    model = bench.wrap(LlamaForCausalLM(config).eval(), tokenizer)
    model.name = f"SmolLM2-135M-shaped ({num_layers} layers, random weights)"
    return model


def plain_forward(model: Model, encoded: Encoded, rows: int, batch_size: int) -> Callable[[], object]:
    """`rows` copies of the input through the model's own attention, in the chunks AtMan would
    use with this `batch_size`: AtMan's floor, at the same chunk size."""
    limit = get_method("atman", batch_size=batch_size).chunk_token_limit(model)
    chunks = row_chunks([len(encoded.input_ids)] * rows, batch_size, limit)

    def call() -> None:
        with torch.no_grad():
            for chunk in chunks:
                copies = [encoded] * (chunk.stop - chunk.start)
                model.target_logprob(model.batch(copies), copies)

    return call


def measure_method(model, encoded, label, method, repeats, memory=True, **params) -> Measurement | None:
    if method not in METHODS.names():
        return None
    try:
        seconds, cost, _ = timed(model, explain_call(model, encoded, method, **params), repeats, memory)
    except NotApplicableError:
        return None
    return Measurement(
        label,
        model.name,
        encoded.n_positions,
        seconds,
        cost.forward_passes,
        cost.backward_passes,
        cost.peak_memory_bytes,
    )


def evaluation_rows(model: Model, encoded: Encoded, batch_size: int, repeats: int) -> list[Measurement]:
    """Every text faithfulness metric of one row (occlusion's explanation, a fresh input cache:
    the first method of an example, which pays the shared passes) against its floor, one plain
    batched forward over as many rows as the metrics send through the model; they take turns."""
    from bench.evaluate import score_explanation
    from bench.registry import METRICS

    metrics = [n for n, m in METRICS.items() if m.family == "faithfulness" and "text" in m.modalities]
    explanation = get_method("occlusion").explain(model, encoded)

    def evaluation() -> object:
        return score_explanation(explanation, model, encoded, metrics, batch_size=batch_size)

    with measure(model.passes, model.device) as cost:
        evaluation()
    needed = cost.forward_passes
    (floor_s, _, _), (eval_s, eval_cost, _) = timed_together(
        model, [plain_forward(model, encoded, needed, batch_size), evaluation], repeats, memory=False
    )
    n = encoded.n_positions
    return [
        Measurement("evaluation floor (its rows, plain)", model.name, n, floor_s, needed, 0, 0),
        Measurement(
            "evaluation (faithfulness, 1 row)", model.name, n, eval_s, eval_cost.forward_passes, 0, 0,
            {"x its floor": eval_s / floor_s},
        ),
    ]  # fmt: skip


def precision_rows(encoder: Model, encoded: Encoded, batch_size: int, repeats: int) -> list[Measurement]:
    """AtMan on the same input with copies of the (float32) encoder in each dtype, in turns; the
    table's 'x plain batched forward' column relates them to float32's floor."""
    models = {dtype: copy.deepcopy(encoder).set_dtype(dtype) for dtype in DTYPES}
    timings = timed_together(
        models["float32"],
        [explain_call(model, encoded, "atman", batch_size=batch_size) for model in models.values()],
        repeats,
        memory=False,
    )
    (float32_s, float32_cost, _) = timings[0]  # the passes are the same in every dtype
    return [
        Measurement(
            f"atman ({dtype})", models["float32"].name, encoded.n_positions, seconds,
            float32_cost.forward_passes, 0, 0, {"speed-up vs float32": float32_s / seconds},
        )
        for dtype, (seconds, _, _) in zip(models, timings, strict=True)
    ]  # fmt: skip


def headline_table(
    encoder: Model,
    causal: Model,
    repeats: int,
    encoder_tokens: int,
    prompt_tokens: int,
    batch_size: int,
    peers: bool = True,
) -> pd.DataFrame:
    """The issue's targets: AtMan vs its floor, prefix reuse vs naive, memory, atman-grad, and
    (with `peers`) the other methods on the same input."""
    rows: list[Measurement] = []
    encoded = encoder.encode(text_of_length(encoder, encoder_tokens), 1)
    n = encoded.n_positions

    # AtMan and its floor take turns: their ratio is target 1
    (floor_s, floor_cost, _), (atman_s, atman_cost, _) = timed_together(
        encoder,
        [
            plain_forward(encoder, encoded, n + 1, batch_size),
            explain_call(encoder, encoded, "atman", batch_size=batch_size),
        ],
        repeats,
    )
    one_s, one_cost, _ = timed(encoder, plain_forward(encoder, encoded, 1, 1), repeats)
    rows.append(
        Measurement(
            "plain forward (n+1 rows)",
            encoder.name,
            n,
            floor_s,
            floor_cost.forward_passes,
            0,
            floor_cost.peak_memory_bytes,
        )
    )
    rows.append(
        Measurement("plain forward (1 row)", encoder.name, n, one_s, 1, 0, one_cost.peak_memory_bytes)
    )
    rows.append(
        Measurement(
            "atman",
            encoder.name,
            n,
            atman_s,
            atman_cost.forward_passes,
            0,
            atman_cost.peak_memory_bytes,
        )
    )
    # the sampling peers take hundreds of passes: one timed call each is enough
    plan = [
        # memory follows the chunk: small chunks trade time for a peak below the gradient methods'
        ("atman (batch_size 4)", "atman", {"batch_size": 4}, repeats),
        ("atman-grad", "atman-grad", {}, repeats),
        ("atman-grad (softmax expansion)", "atman-grad", {"expansion": "softmax"}, repeats),
    ]
    if peers:
        plan += [
            ("occlusion (captum default: 1 per eval)", "occlusion", {"perturbations_per_eval": 1}, repeats),
            ("occlusion (batched)", "occlusion", {"perturbations_per_eval": batch_size}, repeats),
            ("integrated-gradients", "integrated-gradients", {}, repeats),
            ("gae", "gae", {}, repeats),
            ("shap (default evals)", "shap", {}, 1),
            ("lime (default samples)", "lime", {}, 1),
        ]
    for label, method, params, method_repeats in plan:
        measured = measure_method(encoder, encoded, label, method, method_repeats, **params)
        if measured is not None:
            rows.append(measured)
            print(f"  {label:<28} {measured.seconds:8.3f} s", flush=True)

    rows += evaluation_rows(encoder, encoded, batch_size, repeats)
    rows += precision_rows(encoder, encoded, batch_size, repeats)

    prompt = causal.encode(text_of_length(causal, prompt_tokens), " call now to claim")
    naive_explainer = get_method("atman", prefix_reuse=False, batch_size=batch_size)
    fast_explainer = get_method("atman", prefix_reuse=True, batch_size=batch_size)
    # naive, prefix reuse and their floor take turns: prefix / naive is target 2
    (naive_s, naive_cost, naive), (fast_s, fast_cost, fast), (causal_floor_s, causal_floor, _) = (
        timed_together(
            causal,
            [
                lambda: naive_explainer.attribute_batch(causal, [prompt]),
                lambda: fast_explainer.attribute_batch(causal, [prompt]),
                plain_forward(causal, prompt, prompt.n_positions + 1, batch_size),
            ],
            repeats,
        )
    )
    # occlusion's naive and prefix-reuse paths take turns too: their ratio is a target
    naive_occlusion = get_method("occlusion", prefix_reuse=False, perturbations_per_eval=batch_size)
    fast_occlusion = get_method("occlusion", prefix_reuse=True, perturbations_per_eval=batch_size)
    (occ_naive_s, occ_naive_cost, occ_naive), (occ_fast_s, occ_fast_cost, occ_fast) = timed_together(
        causal,
        [
            lambda: naive_occlusion.attribute_batch(causal, [prompt]),
            lambda: fast_occlusion.attribute_batch(causal, [prompt]),
        ],
        repeats,
    )
    atman_difference = float(np.abs(naive[0] - fast[0]).max())
    occlusion_difference = float(np.abs(occ_naive[0] - occ_fast[0]).max())
    for label, seconds, cost, difference in [
        ("causal plain forward (n+1 rows)", causal_floor_s, causal_floor, None),
        ("causal atman naive batched", naive_s, naive_cost, atman_difference),
        ("causal atman prefix reuse", fast_s, fast_cost, atman_difference),
        ("causal occlusion naive batched", occ_naive_s, occ_naive_cost, occlusion_difference),
        ("causal occlusion prefix reuse", occ_fast_s, occ_fast_cost, occlusion_difference),
    ]:
        rows.append(
            Measurement(
                label,
                causal.name,
                prompt.n_positions,
                seconds,
                cost.forward_passes,
                cost.backward_passes,
                cost.peak_memory_bytes,
                {} if difference is None else {"max abs diff prefix vs naive": difference},
            )
        )

    table = pd.DataFrame([{**vars(m), **m.extra} for m in rows]).drop(columns="extra")
    floors = {encoder.name: floor_s, causal.name: causal_floor_s}
    table["x plain batched forward"] = table["seconds"] / table["model"].map(floors)
    table["x one forward"] = table["seconds"] / one_s
    peaks = table.pop("peak_memory_bytes")
    floor_peaks = {encoder.name: floor_cost.peak_memory_bytes, causal.name: causal_floor.peak_memory_bytes}
    table["peak MB"] = peaks / 2**20
    table["x plain batched peak"] = peaks / table["model"].map(floor_peaks)
    return table


AGREEMENT_FACTORS = (0.9, 0.1)
"""Suppression factors for the atman-grad check: AtMan's default, and a small step where a
first-order expansion should hold (it separates approximation error from AtMan's own
nonlinearity in f)."""


def atman_grad_agreement(n_examples: int, tasks: dict[str, dict]) -> list[dict]:
    """How well atman-grad ranks tokens like exact AtMan, per task (with its default model) over
    the first `n_examples` test examples: median Spearman over all explained positions and over
    the ranked ones (the non-special positions every metric perturbs), and how often both put
    the same ranked position first. Each expansion is compared with exact AtMan at the same
    factor; one more row compares exact AtMan at the small factor with exact AtMan at the
    default: how far AtMan's own ranking moves between a step an expansion at m = 1 can follow
    and the step it is asked to predict."""
    from bench.registry import TASKS

    default, small = AGREEMENT_FACTORS
    results = []
    for name, params in tasks.items():
        task = TASKS.get(name)(**params)
        model = task.default_model()
        pairs: dict[tuple[str, float], list] = {}
        for example in task.fit(task.examples("test", n_examples), model):
            exact = {f: _explain("atman", model, example, f) for f in AGREEMENT_FACTORS}
            ranked = ~exact[default].special_tokens
            exact = {f: explanation.scores for f, explanation in exact.items()}
            for expansion in EXPANSIONS:
                for f in AGREEMENT_FACTORS:
                    approx = _explain("atman-grad", model, example, f, expansion=expansion).scores
                    pairs.setdefault((f"atman-grad {expansion}", f), []).append((exact[f], approx, ranked))
            pairs.setdefault((f"atman f={small}", default), []).append((exact[default], exact[small], ranked))
        for (approximation, f), triples in pairs.items():
            results.append(
                {"task": name, "approximation": approximation, "reference": f"atman f={f}"}
                | rank_agreement(triples)
            )
    return results


def _explain(method: str, model: Model, example: Example, f: float, **params: Any) -> Explanation:
    return bench.explain(method, model, example.inputs, example.target, suppression_factor=f, **params)


def rank_agreement(triples: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """Median Spearman (all positions, ranked positions) and top-1 agreement over
    (reference, approximation, ranked mask) triples, one per example."""
    every = [spearmanr(reference, approx)[0] for reference, approx, _ in triples]
    ranked = [spearmanr(reference[mask], approx[mask])[0] for reference, approx, mask in triples]
    top = [np.argmax(reference[mask]) == np.argmax(approx[mask]) for reference, approx, mask in triples]
    return {
        "examples": len(triples),
        "median spearman": float(np.median(every)),
        "median spearman ranked": float(np.median(ranked)),
        "top-1 agreement": float(np.mean(top)),
    }


def scaling(lengths: list[int], repeats: int, batch_size: int, budget_seconds: float) -> pd.DataFrame:
    """Seconds per explanation vs sequence length, per method; a method that took longer than
    `budget_seconds` at one length is not run at the longer ones."""
    encoder = minilm_classifier()
    causal = smollm_shaped_causal_lm(num_layers=6)
    records = []
    over_budget: set[str] = set()
    for length in lengths:
        encoded = encoder.encode(text_of_length(encoder, length), 1)
        prompt = causal.encode(text_of_length(causal, length), " call now")
        plan = {
            "atman-naive": (encoder, encoded, "atman", {"batch_size": 1}),
            "atman": (encoder, encoded, "atman", {"batch_size": batch_size}),
            "atman-prefix": (causal, prompt, "atman", {"batch_size": batch_size}),
            "integrated-gradients": (encoder, encoded, "integrated-gradients", {}),
            "gae": (encoder, encoded, "gae", {}),
            "occlusion": (encoder, encoded, "occlusion", {}),
            "shap": (encoder, encoded, "shap", {}),
            "lime": (encoder, encoded, "lime", {}),
        }
        for label in SCALING_METHODS:
            if label in over_budget:
                continue
            model, item, method, params = plan[label]
            measured = measure_method(model, item, label, method, repeats, memory=False, **params)
            if measured is not None:
                if measured.seconds > budget_seconds:
                    over_budget.add(label)
                records.append({"method": label, "tokens": measured.tokens, "seconds": measured.seconds})
                print(f"  {label:<22} {measured.tokens:>4} tokens  {measured.seconds:8.3f} s", flush=True)
    return pd.DataFrame(records)


def plot_scaling(frame: pd.DataFrame, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for method, group in frame.groupby("method", sort=False):
        axes.plot(group["tokens"], group["seconds"], marker="o", label=method)
    axes.set(
        xscale="log",
        yscale="log",
        xlabel="sequence length (tokens)",
        ylabel="seconds per explanation",
        title="Explanation cost vs sequence length (CPU)\n"
        "MiniLM encoder; atman-prefix: a 6-layer SmolLM2-shaped causal LM",
    )
    lengths = sorted(frame["tokens"].unique())
    axes.set_xticks(lengths, [str(length) for length in lengths])
    axes.minorticks_off()
    axes.legend(fontsize=8)
    figure.tight_layout()
    for suffix in ("png", "pdf"):
        figure.savefig(out / f"scaling.{suffix}", dpi=120)
    plt.close(figure)


def write_table(table: pd.DataFrame, stem: Path) -> None:
    """A result table as stem.csv and stem.md."""
    table.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".md").write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--encoder-tokens", type=int, default=64)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--lengths", default="16,32,64,128,256,512", help="comma-separated; empty to skip")
    parser.add_argument("--budget-seconds", type=float, default=60.0, help="scaling: stop a method past this")
    parser.add_argument(
        "--grad-examples", type=int, default=20, help="examples per task for the atman-grad check"
    )
    parser.add_argument(
        "--sms-data",
        type=Path,
        default=Path("../shared/data/sms_spam"),
        help="local SMS spam data: the atman-grad check also runs on sms_spam when it exists",
    )
    parser.add_argument(
        "--precision-examples", type=int, default=20, help="examples per task for the precision table"
    )
    parser.add_argument(
        "--screen-examples", type=int, default=50, help="examples per task for the screened-AtMan table"
    )
    parser.add_argument("--out", type=Path, default=Path("results/perf"))


def run(args: argparse.Namespace) -> int:
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    encoder = minilm_classifier()
    table = headline_table(
        encoder,
        smollm_shaped_causal_lm(),
        args.repeats,
        args.encoder_tokens,
        args.prompt_tokens,
        args.batch_size,
    )
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    write_table(table, args.out / "table")
    tasks = {"spam": {}} | ({"sms_spam": {"data": args.sms_data}} if args.sms_data.exists() else {})
    if args.grad_examples:
        agreement = pd.DataFrame(atman_grad_agreement(args.grad_examples, tasks))
        print("atman-grad vs exact AtMan:")
        print(agreement.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        (args.out / "atman_grad_agreement.json").write_text(agreement.to_json(orient="records", indent=2))
    if args.screen_examples:
        screening = screening_agreement(tasks, args.screen_examples)
        at_length = screening_cost_at(encoder, args.encoder_tokens, args.repeats)
        screening = pd.concat([screening, pd.DataFrame([at_length])], ignore_index=True)
        print("atman-screened vs exact AtMan:")
        print(screening.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        write_table(screening, args.out / "screening")
    if args.precision_examples:
        precision = precision_agreement(tasks, args.precision_examples)
        print("bfloat16 and mixed vs float32 (speed-up and token-ranking agreement per method):")
        print(precision.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        write_table(precision, args.out / "precision")
    lengths = [int(x) for x in args.lengths.split(",") if x]
    if lengths:
        frame = scaling(lengths, max(1, args.repeats // 3), args.batch_size, args.budget_seconds)
        frame.to_csv(args.out / "scaling.csv", index=False)
        plot_scaling(frame, args.out)
    print(f"wrote {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
