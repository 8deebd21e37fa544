"""Precision as a measured choice (`python -m bench.perf`, precision table): per task and method,
the speed-up of each dtype over float32 and how well its token ranking agrees with float32's.

Each example is explained in every dtype in turn (float32, bfloat16, mixed; same seeds, so the
sampling methods draw the same coalitions and noise), so a slow spell of a shared machine lands
on all of them. Agreement is the median over examples of the Spearman correlation over the
ranked (non-special) positions; a constant ranking (random's) is left out.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from bench.api import get_method
from bench.errors import NotApplicableError
from bench.models import Model
from bench.precision import DTYPES
from bench.registry import METHODS, TASKS

DEFAULT_METHODS = tuple(
    name
    for name in sorted(METHODS.names())
    if name != "random" and "classifier" in METHODS.get(name).model_kinds
)


def precision_agreement(
    tasks: dict[str, dict], n_examples: int, methods: tuple[str, ...] = DEFAULT_METHODS
) -> pd.DataFrame:
    rows = []
    for name, params in tasks.items():
        task = TASKS.get(name)(**params)
        models = {dtype: task.default_model().set_dtype(dtype) for dtype in DTYPES}
        examples = task.fit(task.examples("test", n_examples), models["float32"])
        for method in methods:
            seconds = {dtype: 0.0 for dtype in DTYPES}
            rhos: dict[str, list[float]] = {dtype: [] for dtype in DTYPES[1:]}
            try:
                for example in examples:
                    scores = {}
                    for dtype, model in models.items():
                        seconds[dtype] += _timed_scores(model, method, example, scores, dtype)
                    ranked = ~models["float32"].encode(example.inputs, example.target).special
                    for dtype in rhos:
                        rho = spearmanr(scores["float32"][ranked], scores[dtype][ranked]).statistic
                        if np.isfinite(rho):
                            rhos[dtype].append(float(rho))
            except NotApplicableError:
                continue
            for dtype in DTYPES[1:]:
                rows.append(
                    {
                        "task": name,
                        "method": method,
                        "dtype": dtype,
                        "examples": len(examples),
                        "speed-up vs float32": seconds["float32"] / seconds[dtype],
                        "median spearman vs float32": _statistic(np.median, rhos[dtype]),
                        "min spearman": _statistic(np.min, rhos[dtype]),
                    }
                )
            print(f"  precision {name} {method:<22} " + "  ".join(
                f"{r['dtype']} x{r['speed-up vs float32']:.2f} rho {r['median spearman vs float32']:.3f}"
                for r in rows[-2:]
            ), flush=True)  # fmt: skip
    return pd.DataFrame(rows)


def _statistic(function, values: list[float]) -> float:
    return float(function(values)) if values else float("nan")


def _timed_scores(model: Model, method: str, example, scores: dict, dtype: str) -> float:
    """Seconds to explain `example` with `method` on `model`; its scores go into `scores[dtype]`."""
    encoded = model.encode(example.inputs, example.target)
    torch.manual_seed(0)
    np.random.seed(0)
    explainer = get_method(method)
    explainer.check_applicable(model)
    start = time.perf_counter()
    scores[dtype] = np.asarray(explainer.attribute_batch(model, [encoded])[0], dtype=np.float64)
    return time.perf_counter() - start
