"""The base class of metrics (one subclass per file in `bench/metrics/`) and what they read.

A metric declares, like Quantus does, its direction (`higher_is_better`), its `value_range`
and its `family` (faithfulness | plausibility | complexity | sanity | cost), and computes one
float from an `Evidence`: the explanation, the model and encoded input it explains, the
perturbation machinery, the rationale when the task has one, and the evaluation protocol
(`bench.protocol`) whose settings it names in `protocol_settings`. A metric never
knows which method made the scores. Curve metrics also expose their curve (y at x = k/N).
The positions metrics rank and remove are the input's units (bench/units.py: tokens by
default, or words or sentences; a removed unit is all its tokens).
A value that is undefined on one example (an empty rationale, fewer than two tokens) is NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from bench.errors import NotApplicableError
from bench.models import Encoded, Model
from bench.perturbation import Perturber, default_replacement
from bench.protocol import DEFAULT_PROTOCOL, Protocol, get_protocol
from bench.registry import METRICS
from bench.types import Explanation

register_metric = METRICS.register
FAMILIES = ("faithfulness", "plausibility", "complexity", "robustness", "sanity", "cost")
EVERY_TOKEN_UP_TO = 64
CURVE_FRACTIONS = 20


def curve_steps(n: int) -> np.ndarray:
    """How many positions are removed at each curve point: k = 0..n one at a time when
    n <= 64, else at 20 equal fractions of n (rounded)."""
    if n <= EVERY_TOKEN_UP_TO:
        return np.arange(n + 1)
    return np.rint(np.linspace(0, n, CURVE_FRACTIONS + 1)).astype(int)


@dataclass
class Evidence:
    """Everything a metric may read about one explanation, with shared results cached."""

    explanation: Explanation
    model: Model
    encoded: Encoded
    rationale: np.ndarray | None = None
    """0/1 per unit (bench/units.py), or None when the task has no ground truth."""
    replacement: str | None = None
    batch_size: int = 64
    method: Any = None
    """The `Method` that made the explanation, for sanity checks that re-run it."""
    candidates: np.ndarray | None = None
    """0/1 per unit: where a rationale could lie, the token set plausibility metrics score
    (SQuAD: the context); None is every removable unit."""
    protocol: Protocol = field(default_factory=lambda: get_protocol(DEFAULT_PROTOCOL))
    rationale_stats: tuple[float, float] | None = None
    """(mean |rationale|, mean |rationale| / |candidates|) over the run's examples, for token_f1's
    k under a protocol that fixes k from the dataset; None: this example is its own dataset."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """Results shared by metrics; keys of protocol-dependent results name the protocol, so
    evidences of one explanation under several protocols may share one cache."""
    input_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    """Results that depend on the input alone, not on the scores (perturbers with their KV
    caches, the unperturbed scores, the leave-one-out reference, fixed random subsets' drops):
    the runner hands every method's row of one example the same dict, so each is computed once
    per example."""

    @property
    def perturber(self) -> Perturber:
        return self.perturber_for(self.replacement or default_replacement(self.model))

    def perturber_for(self, replacement: str) -> Perturber:
        """A perturber with the given replacement (the run's, or one a reference needs that must
        not remove tokens the way the explained method does)."""
        return self.cached_for_input(
            f"perturber_{replacement}",
            lambda: Perturber(self.model, self.encoded, replacement, self.batch_size),
        )

    @cached_property
    def protocol_perturber(self) -> Perturber:
        """The perturber of protocol-governed metrics: the protocol's removal (text only) and class
        (the model's prediction on the full input under `target="predicted"`; a causal LM's
        target text stays)."""
        removal = self.protocol.removal if self.model.modality == "text" else None
        removal = removal or self.perturber.replacement
        if self.protocol.target == "gold" or self.model.kind == "causal-lm":
            return self.perturber_for(removal)

        def predicted() -> Perturber:
            encoded = replace(self.encoded, target=self.model.predicted_class(self.encoded))
            return Perturber(self.model, encoded, removal, self.batch_size)

        return self.cached_for_input(f"perturber_{removal}_predicted", predicted)

    @cached_property
    def order(self) -> np.ndarray:
        """Removable units ranked by score, descending (ties keep position order)."""
        removable = self.perturber.removable
        return removable[np.argsort(-self.explanation.scores[removable], kind="stable")]

    @property
    def removable(self) -> np.ndarray:
        return self.perturber.removable

    def removal_masks(self, removed_sets: list[np.ndarray]) -> np.ndarray:
        masks = np.zeros((len(removed_sets), self.encoded.units.n_units), dtype=bool)
        for row, positions in zip(masks, removed_sets, strict=True):
            row[positions] = True
        return masks

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result of this explanation, computed once."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def cached_for_input(self, key: str, compute: Callable[[], Any]) -> Any:
        """A result of the input alone (see `input_cache`), computed once per example."""
        if key not in self.input_cache:
            self.input_cache[key] = compute()
        return self.input_cache[key]

    def unperturbed_score(self, perturber: Perturber | None = None) -> float:
        """y of the whole input under `perturber`'s class (default: the run's perturber)."""
        perturber = perturber or self.perturber
        return self.cached_for_input(
            f"unperturbed_{perturber.replacement}_{perturber.encoded.target}",
            lambda: float(perturber.scores(self.removal_masks([[]]))[0]),
        )

    @cached_property
    def candidate_positions(self) -> np.ndarray:
        """The positions plausibility metrics score: the removable ones, within `candidates`."""
        if self.candidates is None:
            return self.removable
        return self.removable[np.asarray(self.candidates, dtype=bool)[self.removable]]

    def candidate_scores(self) -> np.ndarray:
        return self.explanation.scores[self.candidate_positions]

    def rationale_on_candidates(self) -> np.ndarray:
        if self.rationale is None:
            raise NotApplicableError("this metric needs a ground-truth rationale; none was given")
        return np.asarray(self.rationale, dtype=bool)[self.candidate_positions]


class Metric:
    name: ClassVar[str]
    family: ClassVar[str]
    higher_is_better: ClassVar[bool]
    value_range: ClassVar[tuple[float, float]]
    needs_rationale: ClassVar[bool] = False
    needs_method: ClassVar[bool] = False
    modalities: ClassVar[tuple[str, ...]] = ("text", "image")
    """Input modalities the metric is defined for; runs leave it out elsewhere."""
    measured_by_runner: ClassVar[bool] = False
    """A value the runner measures around the metrics (their cost), not one computed here."""
    protocol_settings: ClassVar[tuple[str, ...]] = ()
    """The `Protocol` fields the value depends on (then recorded once per protocol that sets
    them differently, see `bench.protocol.scored_under`)."""

    @classmethod
    def record_column(cls) -> str:
        """The records column holding this metric's values."""
        return f"metric_{cls.name}"

    def compute(self, evidence: Evidence) -> float:
        raise NotImplementedError

    def removals(self, evidence: Evidence) -> list[tuple[Perturber, np.ndarray]]:
        """The removals `compute` will score on `evidence`, each with its perturber, when they
        are known before any is run: the runner puts those of every method's row of one example
        through the model together, and `compute` then reads them from the perturber. Empty
        when the metric scores no removals that depend on the explanation."""
        return []

    def tautological_for(self, method: Any, model: Model) -> bool:
        """Whether this metric agrees with `method` by construction on `model` (then the summary
        shows the method's value but does not rank it)."""
        return False


class CurveMetric(Metric):
    """A metric summarising a perturbation curve by its area (trapezoid over x = k/N on [0, 1])."""

    def curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the curve; cached on the evidence so related metrics share the forwards."""
        return evidence.cached(f"curve_{self.name}", lambda: self._curve(evidence))

    def _curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def compute(self, evidence: Evidence) -> float:
        x, y = self.curve(evidence)
        return float(np.trapezoid(y, x)) if len(x) > 1 else float("nan")


class RemovalCurveMetric(CurveMetric):
    """The target score along removals of the ranked units (deletion, insertion): at k = 0..n
    one at a time when n <= 64, else at 20 equal fractions of n (`curve_steps`)."""

    def removed_sets(self, order: np.ndarray, steps: np.ndarray) -> list[np.ndarray]:
        """The units removed at each step, given the units ranked best first."""
        raise NotImplementedError

    def _masks(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        n = len(evidence.order)
        steps = curve_steps(n)
        return steps / max(n, 1), evidence.removal_masks(self.removed_sets(evidence.order, steps))

    def _curve(self, evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
        x, masks = self._masks(evidence)
        return x, evidence.perturber.scores(masks)

    def removals(self, evidence: Evidence) -> list[tuple[Perturber, np.ndarray]]:
        return [(evidence.perturber, self._masks(evidence)[1])]
