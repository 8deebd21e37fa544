"""A seeded uniform baseline: the floor every table needs."""

from __future__ import annotations

import math

import numpy as np

from bench.method import Method, register_method
from bench.models import Encoded, Model


@register_method("random")
class RandomBaseline(Method):
    name = "random"
    bounds = {"seed": (0, math.inf)}
    defaults = {"seed": 0}
    scores_units = True

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        return np.random.default_rng(self.params["seed"]).uniform(size=encoded.units.n_units)
