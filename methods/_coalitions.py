"""Feature coalitions for the sampling-based methods (shap, kernel-shap, shapley-sampling, lime).

A feature is one non-special unit (bench/units.py): a text token, word or sentence, a ViT
patch or a CNN grid cell. Special units ([CLS], [SEP], BOS) are always kept and score 0. A
coalition says which features are present; the others are removed (all their positions) through
`bench.perturbation.Perturber`, the same machinery the deletion/insertion metrics use, so a
method removes a unit exactly the way its faithfulness is later scored: text tokens are
replaced by a token (`baseline`: mask, pad, unk; or `delete`), image cells are filled
(`image_baseline`: black, zero, mean, blur).

The function the methods explain is log p(target): the target class's log-probability, or a
causal LM's teacher-forced summed log-probability of the target text. Variants run as batched
forward passes through the adapter, so its pass counter sees every one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from bench.errors import InputError
from bench.method import Method
from bench.models import Encoded, Model
from bench.perturbation import IMAGE_REPLACEMENTS, TEXT_REPLACEMENTS, Perturber

COALITION_DEFAULTS = {"seed": 0, "baseline": "mask", "image_baseline": "black", "batch_size": 64}
"""Parameters every coalition method takes: its seed, how features are removed, rows per forward."""
COALITION_BOUNDS = {"seed": (0, math.inf), "batch_size": (1, math.inf)}

CoalitionValue = Callable[[np.ndarray], np.ndarray]
"""(V, n_features) bool, True = present -> (V,) float64 values to explain."""


class Coalitions:
    """log p(target) of one encoded input with chosen features present and the rest removed."""

    def __init__(
        self, model: Model, encoded: Encoded, baseline: str, image_baseline: str, batch_size: int = 64
    ) -> None:
        for param, chosen, allowed in (
            ("baseline", baseline, TEXT_REPLACEMENTS),
            ("image_baseline", image_baseline, IMAGE_REPLACEMENTS),
        ):
            if chosen not in allowed:
                raise InputError(f"{param}={chosen!r} is not one of {', '.join(allowed)}")
        replacement = image_baseline if model.kind == "image-classifier" else baseline
        self.model = model
        self.encoded = encoded
        # random coalitions remove positions near the start: a shared prefix would save little
        self.perturber = Perturber(model, encoded, replacement, batch_size, prefix_reuse=False)
        self.features = self.perturber.removable
        """Units that are features, in order."""
        if len(self.features) == 0:
            raise InputError("every explained position is a special token: there is nothing to explain")

    @property
    def n_features(self) -> int:
        return len(self.features)

    def feature_tokens(self) -> list[str]:
        return [self.encoded.units.texts[i] for i in self.features]

    def logprob(self, present: np.ndarray) -> np.ndarray:
        """(V,) float64 log p(target) for each row of `present` ((V, n_features) bool); a
        coalition drawn again is not run again (`Perturber.logprobs`)."""
        present = np.atleast_2d(np.asarray(present, dtype=bool))
        removed = np.zeros((len(present), self.encoded.units.n_units), dtype=bool)
        removed[:, self.features] = ~present
        return self.perturber.logprobs(removed)

    def unit_scores(self, feature_scores: np.ndarray) -> np.ndarray:
        """One score per unit: the features' scores, 0 at special units."""
        scores = np.zeros(self.encoded.units.n_units)
        scores[self.features] = np.asarray(feature_scores, dtype=np.float64).reshape(-1)
        return scores


class CoalitionMethod(Method):
    """A method that scores features from coalition values; subclasses implement `feature_scores`."""

    scores_units = True

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        params = self.params
        coalitions = Coalitions(
            model, encoded, params["baseline"], params["image_baseline"], params["batch_size"]
        )
        return coalitions.unit_scores(self.feature_scores(coalitions))

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        """One score per feature (`coalitions.features`)."""
        raise NotImplementedError


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's and numpy's global generators for the body (the libraries draw from them),
    then restore both, so a method's seed neither leaks into nor depends on the caller's state."""
    numpy_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)


def captum_coalition_values(
    attribution: type, value: CoalitionValue, n_features: int, seed: int, **kwargs: object
) -> np.ndarray:
    """A captum perturbation method (`attribution`, e.g. KernelShap) over `n_features` binary
    features of the set function `value`: the input is all ones (every feature present), the
    baseline all zeros (every feature removed); `kwargs` go to its `attribute`; seeded."""

    def forward(coalitions: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(value(coalitions.numpy() > 0.5))

    with seeded(seed):
        values = attribution(forward).attribute(
            torch.ones(1, n_features, dtype=torch.float64),
            baselines=torch.zeros(1, n_features, dtype=torch.float64),
            **kwargs,
        )
    return values[0].double().numpy()
