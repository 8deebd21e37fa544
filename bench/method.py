"""The base class of explanation methods: one subclass per file in `methods/`.

A method declares what it can explain (modalities, model kinds, whether it needs gradients
or attention) so the runner can record "not applicable" instead of failing, and implements
one verb, `attribute(model, encoded) -> scores`. `explain` adds the bookkeeping every method
shares: input checks, cost measurement and the `Explanation` record.

What a method scores is the input's units (`encoded.units`, bench/units.py: tokens, words or
sentences). A method that perturbs its input perturbs whole units and returns one score per unit
(`scores_units = True`); any other (gradients, attention) scores positions, which `in_units`
aggregates into their units by its `unit_aggregation` parameter (sum, mean or max). At token
granularity every unit is one position, so both give the per-token scores unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.cost import measure
from bench.errors import InputError, NotApplicableError
from bench.models import Encoded, Model
from bench.registry import METHODS
from bench.types import Explanation
from bench.units import UNIT_AGGREGATIONS

register_method = METHODS.register


class Method:
    name: ClassVar[str]
    """Registry name, e.g. 'atman'."""
    defaults: ClassVar[dict[str, Any]] = {}
    """Every parameter the method takes, with its default."""
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}
    """Inclusive ranges of numeric parameters; a value of a parameter whose default is an int
    must be an int. Checked when the method is made, so a run refuses a bad value up front."""
    """The allowed values of the parameters that name a choice; checked when the method is built."""
    model_kinds: ClassVar[tuple[str, ...]] = ("classifier", "causal-lm", "image-classifier")
    needs_gradients: ClassVar[bool] = False
    needs_attention: ClassVar[bool] = False
    scores_units: ClassVar[bool] = False
    """True: `attribute` returns one score per unit of `encoded.units` (it perturbs whole units);
    False: one per explained position, aggregated into units by the `unit_aggregation` parameter
    every such method takes."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.scores_units:
            cls.defaults = {**cls.defaults, "unit_aggregation": UNIT_AGGREGATIONS[0]}
            cls.choices = {**cls.choices, "unit_aggregation": UNIT_AGGREGATIONS}

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise InputError(
                f"method {self.name!r} got unknown parameter(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(self.defaults)) or 'none'}"
            )
        self.params = {**self.defaults, **params}
        for param, (low, high) in self.bounds.items():
            value, default = self.params[param], self.defaults[param]
            if value is None or (isinstance(value, str) and value == default):
                continue  # the parameter's own non-numeric default ("auto", None)
            integral = isinstance(default, int) and not isinstance(default, bool)
            kind = int if integral else int | float
            if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
                wanted = "an integer" if integral else "a number"
                raise InputError(
                    f"method {self.name!r}: {param}={value!r} must be {wanted} in [{low}, {high}]"
                )
        for param, allowed in self.choices.items():
            if param in self.params and self.params[param] not in allowed:
                raise InputError(
                    f"method {self.name!r}: {param}={self.params[param]!r} is not one of {', '.join(allowed)}"
                )

    @classmethod
    def modalities(cls) -> tuple[str, ...]:
        return tuple(sorted({"image" if kind == "image-classifier" else "text" for kind in cls.model_kinds}))

    @classmethod
    def unavailable(cls) -> str | None:
        """Why the method cannot run in this environment (an optional extra missing), else None;
        runs leave such a method out of their default methods and their summary says why."""
        return None

    def check_applicable(self, model: Model) -> None:
        if model.kind not in self.model_kinds:
            raise NotApplicableError(
                f"method {self.name!r} does not apply to {model.kind} models "
                f"(it supports {', '.join(self.model_kinds)})"
            )

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        """One float per explained position of `encoded` (per unit if `scores_units`)."""
        raise NotImplementedError

    def leave_one_out_removal(self, model: Model) -> str | None:
        """How the method removes a single position when it scores each position by that removal
        alone (occlusion), else None; a metric whose reference removes positions the same way
        is tautological for it."""
        return None

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        """Several inputs at once; methods that can batch across inputs override this."""
        return [self.attribute(model, encoded) for encoded in batch]

    def attribute_per_token(self, model: Model, batch: list[Encoded]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per causal-LM input, (its scores, a (target tokens, positions) matrix whose row t
        explains target token t alone): the method run on the whole target and on each token
        (`Encoded.target_token`), all in one batch. Methods that get every row from one
        computation override this."""
        singles = [[encoded.target_token(t) for t in range(len(encoded.target_ids))] for encoded in batch]
        scores = self.attribute_batch(model, [*batch, *(row for rows in singles for row in rows)])
        ends = len(batch) + np.cumsum([len(rows) for rows in singles])
        return [
            (whole, np.stack(scores[end - len(rows) : end]))
            for whole, rows, end in zip(scores, singles, ends, strict=False)
        ]

    def in_units(self, encoded: Encoded, scores: np.ndarray) -> np.ndarray:
        """`attribute`'s scores of `encoded` (or a matrix of them, a row per target token) as one
        float64 per unit: as they are, or aggregated by `unit_aggregation`."""
        scores = np.asarray(scores, dtype=np.float64)
        return (
            scores if self.scores_units else encoded.units.aggregate(scores, self.params["unit_aggregation"])
        )

    def unit_scores(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        """One float64 score per unit of each input of `batch`."""
        return [
            self.in_units(item, s) for item, s in zip(batch, self.attribute_batch(model, batch), strict=True)
        ]

    def explain(
        self, model: Model, encoded: Encoded | list[Encoded], per_token: bool = False
    ) -> Explanation | list[Explanation]:
        """Explanations of one input or a list; with `per_token` (causal LMs) each also carries
        the explanation of each target token alone (`Explanation.per_token_scores`)."""
        self.check_applicable(model)
        if per_token and model.kind != "causal-lm":
            raise InputError(
                f"per_token explains each target token of a causal LM; {model.name} is a {model.kind}"
            )
        batch = encoded if isinstance(encoded, list) else [encoded]
        with measure(model.passes, model.device) as cost:
            if per_token:
                all_scores, matrices = zip(*self.attribute_per_token(model, batch), strict=True)
            else:
                all_scores, matrices = self.attribute_batch(model, batch), [None] * len(batch)
        explanations = []
        for item, scores, matrix in zip(batch, all_scores, matrices, strict=True):
            scores = self.in_units(item, scores)
            matrix = None if matrix is None else self.in_units(item, matrix)
            if not np.all(np.isfinite(scores)) or (matrix is not None and not np.all(np.isfinite(matrix))):
                raise FloatingPointError(f"method {self.name!r} produced non-finite scores")
            target_ids = None if item.target_ids is None else item.target_ids.tolist()
            explanations.append(
                Explanation(
                    tokens=list(item.units.texts),
                    scores=scores,
                    target=item.target,
                    method=self.name,
                    params=dict(self.params),
                    cost=cost,
                    special_tokens=item.units.special,
                    patch_grid=item.patch_grid,
                    target_tokens=None
                    if target_ids is None
                    else model.tokenizer.convert_ids_to_tokens(target_ids),
                    per_token_scores=matrix,
                    granularity=item.units.granularity,
                )
            )
        return explanations if isinstance(encoded, list) else explanations[0]
