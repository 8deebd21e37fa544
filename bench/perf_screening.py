"""Screened AtMan against exact AtMan (`python -m bench.perf`, screening table): per task, over
the first test examples, the cost ratio, the mean deletion AUC of each (and their difference),
and how often both put the same positions in their top k (k = the example's rationale size,
else 3). The two methods take turns on every example, and once more on a 64-token MiniLM
input, the length the issue sets the cost goal at."""

from __future__ import annotations

import numpy as np
import pandas as pd

import bench
from bench.api import get_method
from bench.evaluate import rationale_mask
from bench.models import Model
from bench.perf_timing import explain_call, text_of_length, timed_together
from bench.registry import TASKS

TOP_K = 3
"""k of the top-k agreement for examples without a rationale."""


def top_k_agreement(exact: np.ndarray, screened: np.ndarray, ranked: np.ndarray, k: int) -> bool:
    """Whether both rankings put the same ranked positions in their top k."""
    positions = np.flatnonzero(ranked)
    k = min(k, len(positions))
    top = lambda scores: set(positions[np.argsort(-scores[positions], kind="stable")[:k]])  # noqa: E731
    return top(exact) == top(screened)


def screening_agreement(tasks: dict[str, dict], n_examples: int) -> pd.DataFrame:
    rows = []
    exact_method, screened_method = get_method("atman"), get_method("atman-screened")
    for name, params in tasks.items():
        task = TASKS.get(name)(**params)
        model = task.default_model()
        seconds = {"atman": 0.0, "atman-screened": 0.0}
        auc = {"atman": [], "atman-screened": []}
        same_top = []
        for example in task.fit(task.examples("test", n_examples), model):
            encoded = model.encode(example.inputs, example.target)
            calls = [
                lambda method=method, model=model, encoded=encoded: method.explain(model, encoded)
                for method in (exact_method, screened_method)
            ]
            (exact_s, _, exact), (screened_s, _, screened) = timed_together(model, calls, 1, memory=False)
            seconds["atman"] += exact_s
            seconds["atman-screened"] += screened_s
            for label, explanation in (("atman", exact), ("atman-screened", screened)):
                auc[label].append(
                    bench.evaluate(explanation, model, example, metrics=["deletion"])["deletion"]
                )
            mask = rationale_mask(encoded, example.rationale)
            k = int(mask.sum()) if mask is not None and mask.sum() > 0 else TOP_K
            same_top.append(top_k_agreement(exact.scores, screened.scores, ~encoded.special, k))
        rows.append(
            {
                "task": name,
                "examples": len(same_top),
                "cost x exact": seconds["atman-screened"] / seconds["atman"],
                "deletion AUC atman": float(np.mean(auc["atman"])),
                "deletion AUC screened": float(np.mean(auc["atman-screened"])),
                "AUC difference": float(np.mean(auc["atman-screened"]) - np.mean(auc["atman"])),
                "top-k identical": float(np.mean(same_top)),
            }
        )
        print(f"  screening {name}: {rows[-1]}", flush=True)
    return pd.DataFrame(rows)


def screening_cost_at(model: Model, tokens: int, repeats: int) -> dict:
    """Screened vs exact AtMan on one input of `tokens` tokens, in turns: their cost ratio."""
    encoded = model.encode(text_of_length(model, tokens), 1)
    (exact_s, exact_cost, _), (screened_s, screened_cost, _) = timed_together(
        model,
        [explain_call(model, encoded, "atman"), explain_call(model, encoded, "atman-screened")],
        repeats,
        memory=False,
    )
    return {
        "task": f"{model.name}, {encoded.n_positions} tokens",
        "cost x exact": screened_s / exact_s,
        "forward passes (exact, screened)": f"{exact_cost.forward_passes}, {screened_cost.forward_passes}",
    }
