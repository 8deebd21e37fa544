"""The public verbs users call: explain, and the listings."""

from __future__ import annotations

from typing import Any

from bench.method import Method
from bench.models import Model
from bench.registry import METHODS, TASKS
from bench.types import Explanation


def get_method(name: str, **params: Any) -> Method:
    return METHODS.get(name)(**params)


def explain(
    method: str, model: Model, inputs: Any, target: Any = None, **params: Any
) -> Explanation | list[Explanation]:
    """Explain the model's `target` output on `inputs` with the named method.

    `inputs` is a text (or image) or a list of them; a list returns a list of explanations and
    lets batching methods share forward passes (so each of them carries the whole list's
    `cost`, which the list's items cannot split). `target` is a class index (default: the
    predicted class) or, for a causal LM, the target text (default: the greedy next token).
    """
    explainer = get_method(method, **params)
    explainer.check_applicable(model)
    if isinstance(inputs, list):
        targets = target if isinstance(target, list) else [target] * len(inputs)
        return explainer.explain(model, [model.encode(x, t) for x, t in zip(inputs, targets, strict=True)])
    return explainer.explain(model, model.encode(inputs, target))


def list_methods() -> list[str]:
    return METHODS.names()


def list_tasks() -> list[str]:
    return TASKS.names()
