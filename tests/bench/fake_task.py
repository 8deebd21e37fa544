"""A fake task for the runner tests, imported as a run plugin (`plugins=["tests.bench.fake_task"]`)
so subprocess and Ray workers register it too: a few spam-like texts over the tiny vocabulary,
rationales as character spans, and the tiny BERT as its default model (`fake-plain`: the
same texts without rationales). It also registers test
methods: `fake-failing` (raises on one example, returns NaN on another), `fake-slow`
(deterministic scores, slow enough to be killed mid-run) and `fake-deleting-loo` (leave-one-out
by deletion, loo_tau's own reference) and `fake-flaky` (fails until a marker file is gone)."""

from __future__ import annotations

import os
import time

import numpy as np

from bench.method import Method, register_method
from bench.models import Encoded, Model
from bench.task import Task, register_task
from bench.types import Example
from tests.tiny import tiny_bert

TEXTS = [
    ("free cash call now", 1, ["free", "cash"]),
    ("hello how are you see you later", 0, ["hello"]),
    ("urgent reply to claim your prize", 1, ["urgent", "prize"]),
    ("lunch tomorrow at the meeting", 0, ["lunch", "meeting"]),
    ("win cash now text stop", 1, ["win", "cash"]),
    ("see you for lunch my text", 0, ["lunch"]),
    ("claim your free prize now", 1, ["free", "prize"]),
    ("how is the meeting tomorrow", 0, ["meeting"]),
]


def _spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    return [(text.index(word), text.index(word) + len(word)) for word in words]


@register_task("fake-spam")
class FakeSpam(Task):
    """Eight tiny spam/ham texts for runner tests."""

    name = "fake-spam"
    has_rationale = True
    labels = ("ham", "spam")

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        chosen = TEXTS if n is None else TEXTS[:n]
        return [
            Example(f"fake-{i}", text, label, _spans(text, words))
            for i, (text, label, words) in enumerate(chosen)
        ]

    def default_model(self) -> Model:
        return tiny_bert()


@register_task("fake-plain")
class FakePlain(FakeSpam):
    """The same texts without rationales, for runs of several tasks."""

    name = "fake-plain"
    has_rationale = False

    def examples(self, split: str = "test", n: int | None = None) -> list[Example]:
        chosen = TEXTS if n is None else TEXTS[:n]
        return [Example(f"plain-{i}", text, label) for i, (text, label, _) in enumerate(chosen)]


@register_method("fake-failing")
class FakeFailing(Method):
    name = "fake-failing"

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        if "prize" in encoded.tokens:
            raise RuntimeError("fake failure on a prize")
        if "lunch" in encoded.tokens:
            return np.full(encoded.n_positions, np.nan)
        return np.arange(encoded.n_positions, dtype=float)


@register_method("fake-slow")
class FakeSlow(Method):
    name = "fake-slow"

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        time.sleep(0.4)
        return np.cos(np.arange(encoded.n_positions))


@register_method("fake-deleting-loo")
class FakeDeletingLeaveOneOut(Method):
    """Leave-one-out by deletion: exactly loo_tau's reference, so that metric is tautological."""

    name = "fake-deleting-loo"

    def leave_one_out_removal(self, model: Model) -> str:
        return "delete"

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        from bench.perturbation import Perturber

        perturber = Perturber(model, encoded, "delete")
        masks = np.zeros((len(perturber.removable) + 1, encoded.n_positions), dtype=bool)
        for row, position in enumerate(perturber.removable, start=1):
            masks[row, position] = True
        y = perturber.scores(masks)
        scores = np.zeros(encoded.n_positions)
        scores[perturber.removable] = y[0] - y[1:]
        return scores


@register_method("fake-flaky")
class FakeFlaky(Method):
    """Fails while the file named by $XAI_BENCH_FAKE_FAILURE exists (a cause that goes away)."""

    name = "fake-flaky"

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        if os.path.exists(os.environ.get("XAI_BENCH_FAKE_FAILURE", "")):
            raise MemoryError("fake out of memory")
        return np.arange(encoded.n_positions, dtype=float)


@register_method("fake-unavailable")
class FakeUnavailable(Method):
    """Cannot run in this environment, like a method whose optional extra is missing."""

    name = "fake-unavailable"

    @classmethod
    def unavailable(cls) -> str:
        return "fake-unavailable needs the fake extra: pip install fake"

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        raise AssertionError("a run must not call an unavailable method by default")
