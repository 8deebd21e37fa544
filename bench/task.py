"""The base class of benchmark tasks: one subclass per file in `tasks/`.

A task is a dataset split, a target definition, an optional ground-truth rationale and a
default model. It loads from a local path (`data=`) or the HuggingFace hub by id, and never
needs the network when given a local path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from bench.models import Model
from bench.registry import TASKS
from bench.types import Example
from bench.units import DEFAULT_GRANULARITY

register_task = TASKS.register

SHARED_DATA = Path("../shared/data")
"""Where this project's machines keep offline copies of task data, relative to the checkout (the
README's commands run from it): a run without `data` reads a task's copy from here when present."""


class Task:
    name: ClassVar[str]
    modality: ClassVar[str] = "text"
    """'text' or 'image'."""
    model_kind: ClassVar[str] = "classifier"
    """The adapter kind the task's targets are defined for."""
    has_rationale: ClassVar[bool] = False
    """Whether examples carry a ground-truth rationale (char spans for text, a pixel mask for images)."""
    labels: ClassVar[tuple[str, ...]] = ()
    granularity: ClassVar[str] = DEFAULT_GRANULARITY
    """The unit a run explains when it names none (bench/units.py)."""
    local_copy: ClassVar[str | None] = None
    """The folder under SHARED_DATA holding an offline copy of the task's data, if one exists."""

    def __init__(self, data: str | Path | None = None, seed: int = 0, **params: Any) -> None:
        self.data = Path(data) if data is not None else None
        self.seed = seed
        self.params = params

    @classmethod
    def local_data(cls) -> str | None:
        """The offline copy's path when this machine has it (else None: the task's own default)."""
        if cls.local_copy is None or not (SHARED_DATA / cls.local_copy).exists():
            return None
        return str(SHARED_DATA / cls.local_copy)

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        """The first `n` examples of a split, in a fixed (seeded) order.

        Text rationales are lists of (start, end) character spans of `Example.inputs`
        (map them to tokens with `Encoded.token_mask`); image rationales are (H, W) 0/1 arrays.
        """
        raise NotImplementedError

    def fit(self, examples: list[Example], model: Model) -> list[Example]:
        """The examples shortened where `model` cannot take them whole (its `max_length`), with
        their ids and order kept; called wherever examples meet a model (a run's rows, `xai-bench
        explain --task`), since `examples` knows no model. The default keeps them as they are."""
        return examples

    def default_model(self) -> Model:
        """The model the benchmark explains by default: loaded, or trained once and cached."""
        raise NotImplementedError
