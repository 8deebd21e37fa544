"""Model-parameter randomisation (Adebayo et al. 2018): Spearman correlation between the
explanation of the trained model and the same method's explanation of a copy whose every
layer is re-initialised. An explanation that ignores the weights correlates highly, so lower
is better. It re-runs the method, so the runner computes it only when sanity checks are on.
"""

from __future__ import annotations

import copy
import weakref

import numpy as np
import torch
from scipy.stats import spearmanr

from bench.errors import NotApplicableError
from bench.metric import Evidence, Metric, register_metric
from bench.models import Model

_RANDOMIZED: weakref.WeakKeyDictionary[Model, Model] = weakref.WeakKeyDictionary()
SEED = 0


def randomized_copy(model: Model) -> Model:
    """The model with every parameterised layer reset (seeded), built once per model."""
    if model not in _RANDOMIZED:
        hf = copy.deepcopy(model.hf)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(SEED)
            for module in hf.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
        _RANDOMIZED[model] = Model(hf, model.processor, kind=model.kind, name=f"{model.name} (randomized)")
    return _RANDOMIZED[model]


@register_metric("randomization")
class Randomization(Metric):
    name = "randomization"
    family = "sanity"
    higher_is_better = False
    value_range = (-1.0, 1.0)
    needs_method = True

    def compute(self, evidence: Evidence) -> float:
        if evidence.method is None:
            raise NotApplicableError(
                "the randomisation check re-runs the method; pass the method that made it"
            )
        removable = evidence.removable
        if len(removable) < 2:
            return float("nan")
        [random_scores] = evidence.method.attribute_batch(randomized_copy(evidence.model), [evidence.encoded])
        random_scores = np.asarray(random_scores)
        trained = evidence.explanation.scores[removable]
        return float(spearmanr(trained, random_scores[removable]).statistic)
