"""Named lists of tasks that one run covers (`xai-bench run --suite text`): the one place they live.

A suite answers "which method should I trust across tasks" rather than on one task. `text`
holds the text-classification tasks whose default models and data are on this machine (local
copies under `../shared/data/`, or generated); `vision` the image tasks; `all` every registered
task. Each task runs with its own default model, data, replacement and metrics.
"""

from __future__ import annotations

from bench.errors import InputError
from bench.registry import TASKS

SUITES: dict[str, tuple[str, ...]] = {
    "text": ("spam", "sms_spam", "sst2", "hatexplain"),
    "vision": ("digits_vit", "photos_cnn"),
}
ALL = "all"


def suite_names() -> list[str]:
    return [*SUITES, ALL]


def suite_tasks(name: str) -> list[str]:
    """The tasks of a named suite; `all` is every registered task."""
    if name == ALL:
        return TASKS.names()
    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}")
    return list(SUITES[name])
