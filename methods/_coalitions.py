"""Feature coalitions for the sampling-based methods (shap, kernel-shap, lime).

A feature is one non-special explained position: a text token, a ViT patch or a CNN grid cell.
Special positions ([CLS], [SEP], BOS) are always kept and score 0. A coalition says which
features are present; the others are removed through `bench.perturbation.Perturber`, the same
machinery the deletion/insertion metrics use, so a method removes a token or patch exactly the
way its faithfulness is later scored: text tokens are replaced by a token (`baseline`: mask,
pad, unk; or `delete`), image cells are filled (`image_baseline`: black, zero, mean, blur).

The function the methods explain is log p(target): the target class's log-probability, or a
causal LM's teacher-forced summed log-probability of the target text. Variants run as batched
forward passes through the adapter, so its pass counter sees every one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
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
        """Explained positions that are features, in order."""
        if len(self.features) == 0:
            raise InputError("every explained position is a special token: there is nothing to explain")
        self._values: dict[bytes, float] = {}
        """log p(target) of each coalition computed so far, keyed by its packed bits."""

    @property
    def n_features(self) -> int:
        return len(self.features)

    def feature_tokens(self) -> list[str]:
        return [self.encoded.tokens[i] for i in self.features]

    def logprob(self, present: np.ndarray) -> np.ndarray:
        """(V,) float64 log p(target) for each row of `present` ((V, n_features) bool).

        Each distinct coalition goes through the model once per input: samplers draw the same
        one again and again on short inputs (kernel SHAP's weights favour the d coalitions of
        size 1 and of size d - 1; measured on 20 features: 385 distinct of kernel-shap's 500
        draws, 859 of lime's 1000), and a repeat's value is the one already computed."""
        present = np.atleast_2d(np.asarray(present, dtype=bool))
        keys = [row.tobytes() for row in np.packbits(present, axis=1)]
        new = list({key: i for i, key in enumerate(keys) if key not in self._values}.items())
        if new:
            removed = np.zeros((len(new), self.encoded.n_positions), dtype=bool)
            removed[:, self.features] = ~present[[i for _, i in new]]
            self._values.update(zip([key for key, _ in new], self.perturber.logprobs(removed), strict=True))
        return np.array([self._values[key] for key in keys], dtype=np.float64)

    def position_scores(self, feature_scores: np.ndarray) -> np.ndarray:
        """One score per explained position: the features' scores, 0 at special positions."""
        scores = np.zeros(self.encoded.n_positions)
        scores[self.features] = np.asarray(feature_scores, dtype=np.float64).reshape(-1)
        return scores


class CoalitionMethod(Method):
    """A method that scores features from coalition values; subclasses implement `feature_scores`."""

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        params = self.params
        coalitions = Coalitions(
            model, encoded, params["baseline"], params["image_baseline"], params["batch_size"]
        )
        return coalitions.position_scores(self.feature_scores(coalitions))

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
