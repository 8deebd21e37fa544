"""xai-bench: a comparative benchmark for explanation methods on transformer models."""

from bench.api import explain, list_methods, list_tasks
from bench.evaluate import evaluate
from bench.models import Model, load_model, wrap
from bench.runner import run
from bench.types import Cost, Example, Explanation

__all__ = [
    "Cost",
    "Example",
    "Explanation",
    "Model",
    "evaluate",
    "explain",
    "list_methods",
    "list_tasks",
    "load_model",
    "run",
    "wrap",
]
