"""The public verbs users call: explain, and the listings."""

from __future__ import annotations

from typing import Any

from bench.method import Method
from bench.models import DEFAULT_MAX_NEW_TOKENS, Model, check_max_new_tokens
from bench.registry import METHODS, TASKS
from bench.types import Explanation
from bench.units import DEFAULT_GRANULARITY


def get_method(name: str, **params: Any) -> Method:
    return METHODS.get(name)(**params)


def explain(
    method: str,
    model: Model,
    inputs: Any,
    target: Any = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    per_token: bool = False,
    granularity: str = DEFAULT_GRANULARITY,
    **params: Any,
) -> Explanation | list[Explanation]:
    """Explain the model's `target` output on `inputs` with the named method.

    `inputs` is a text, or an image (a file path, a PIL image or an (H, W, C) array), or a list
    of them; a list returns a list of explanations and lets batching methods share forward
    passes (so each of them carries the whole list's `cost`, which the list's items cannot
    split). `target` is a class index (default: the predicted class) or, for a causal LM, the
    target text (default: its greedy generation, up to `max_new_tokens` or its end token).
    `per_token` (causal LMs) also explains each target token alone, teacher-forced after the
    ones before it: `Explanation.per_token_scores`, a (target tokens, units) matrix.
    `granularity` is what gets one score: `token`, `word` or `sentence` (bench/units.py).
    """
    explainer = get_method(method, **params)
    explainer.check_applicable(model)
    check_max_new_tokens(max_new_tokens)
    generation = {"max_new_tokens": max_new_tokens} if model.kind == "causal-lm" else {}
    generation["granularity"] = granularity
    if isinstance(inputs, list):
        targets = target if isinstance(target, list) else [target] * len(inputs)
        encoded = [model.encode(x, t, **generation) for x, t in zip(inputs, targets, strict=True)]
        return explainer.explain(model, encoded, per_token=per_token)
    return explainer.explain(model, model.encode(inputs, target, **generation), per_token=per_token)


def list_methods() -> list[str]:
    return METHODS.names()


def list_tasks() -> list[str]:
    return TASKS.names()
