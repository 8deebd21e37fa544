"""Timing helpers of the cost benchmark (`bench/perf.py` and its precision and screening
tables): inputs of a given length, calls timed alone or in turns, explanation calls."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.api import get_method
from bench.cost import allocated_peak_bytes, measure
from bench.models import Encoded, Model
from bench.types import Cost

WORDS = "free cash prize call now to claim your reward text stop hello see you at lunch tomorrow".split()


def text_of_length(model: Model, n_tokens: int) -> str:
    """A text the model's tokenizer splits into exactly n_tokens explained positions (if it can),
    counted with the tokenizer so that texts up to the model's own limit can be built."""
    words = [WORDS[i % len(WORDS)] for i in range(n_tokens)]
    while len(words) > 1 and len(model.tokenizer(" ".join(words))["input_ids"]) > n_tokens:
        words.pop()
    return " ".join(words)


def timed(
    model: Model, call: Callable[[], Any], repeats: int, memory: bool = True
) -> tuple[float, Cost, Any]:
    """Median seconds over `repeats` calls (after one warm-up when repeated), and the last call's
    cost and result. With `memory`, the cost's peak memory comes from one more call, profiled
    apart from the timed ones: the allocator's peak, which sees memory that RSS sampling misses."""
    return timed_together(model, [call], repeats, memory)[0]


def timed_together(
    model: Model, calls: list[Callable[[], Any]], repeats: int, memory: bool = True
) -> list[tuple[float, Cost, Any]]:
    """`timed` for calls whose ratios are the result: they take turns (a, b, a, b, ...), so a
    slow spell on a shared machine lands on all of them instead of on whichever ran then."""
    if repeats > 1:
        for call in calls:
            call()
    seconds: list[list[float]] = [[] for _ in calls]
    costs: list[Cost] = [Cost() for _ in calls]
    results: list[Any] = [None for _ in calls]
    for _ in range(repeats):
        for i, call in enumerate(calls):
            with measure(model.passes, model.device) as cost:
                results[i] = call()
            seconds[i].append(cost.seconds)
            costs[i] = cost
    if memory:
        for call, cost in zip(calls, costs, strict=True):
            cost.peak_memory_bytes = allocated_peak_bytes(call, model.device)
    return [
        (statistics.median(times), cost, result)
        for times, cost, result in zip(seconds, costs, results, strict=True)
    ]


def explain_call(model: Model, encoded: Encoded, method: str, **params) -> Callable[[], object]:
    explainer = get_method(method, **params)
    return lambda: explainer.attribute_batch(model, [encoded])
