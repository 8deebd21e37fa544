"""The shared shape of text-classification tasks: their default model is the encoder fine-tuned on them."""

from __future__ import annotations

from typing import Any, ClassVar

from bench.models import Model
from bench.task import Task


class TextClassificationTask(Task):
    modality = "text"
    model_kind = "classifier"
    training: ClassVar[dict[str, Any]] = {}
    """Overrides of `bench.training.TrainingSettings` for this task's default model."""

    def default_model(self) -> Model:
        """The default encoder fine-tuned on this task (trained on first use, then cached)."""
        from bench.training import load_trained, trained_classifier

        return load_trained(trained_classifier(self))
