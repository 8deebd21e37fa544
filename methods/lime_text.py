"""LIME (Ribeiro et al. 2016) through the `lime` package's LimeTextExplainer.

LIME is fed the model's own tokens, not its words: the explained non-special positions (text
tokens, or ViT patches / CNN cells by name) joined by a separator that no token contains,
split on that separator, with `bow=False` so a repeated token is one feature per position.
So every LIME feature is exactly one model position and its weight maps back 1:1; special
tokens score 0. LIME hides features by writing its mask string in their slot; the classifier
function reads which slots were hidden and removes those positions as in `methods._coalitions`.

LIME explains class probabilities, so the classifier function returns [1 - p, p] and LIME
fits label 1: p is the target class's probability for classifiers, and the probability of the
whole target text (exp of its teacher-forced log-probability) for causal LMs. Scores are the
ridge coefficients of LIME's locally weighted linear model (all features kept), seeded by
`seed` through LIME's random_state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.method import register_method
from methods._coalitions import COALITION_BOUNDS, COALITION_DEFAULTS, CoalitionMethod, Coalitions

SEPARATOR = "\x1f"  # ASCII unit separator: never part of a token
HIDDEN = "\x1e"  # LIME's mask string: also never a token, so a hidden slot is unambiguous

Probability = Callable[[np.ndarray], np.ndarray]
"""(V, n_features) bool, True = present -> (V,) probability of the target."""


def lime_weights(tokens: list[str], probability: Probability, num_samples: int, seed: int) -> np.ndarray:
    """LimeTextExplainer's weight for each of `tokens` (one feature per position)."""
    from lime.lime_text import LimeTextExplainer

    if any(SEPARATOR in token or HIDDEN in token or not token for token in tokens):
        raise ValueError("LIME features must be non-empty and free of the separator characters")

    def classifier_fn(texts: list[str]) -> np.ndarray:
        present = np.array([[slot != HIDDEN for slot in text.split(SEPARATOR)] for text in texts])
        p = probability(present)
        return np.stack([1 - p, p], axis=1)

    explainer = LimeTextExplainer(
        split_expression=re.escape(SEPARATOR),
        bow=False,
        mask_string=HIDDEN,
        feature_selection="none",
        random_state=seed,
    )
    explanation = explainer.explain_instance(
        SEPARATOR.join(tokens),
        classifier_fn,
        labels=(1,),
        num_features=len(tokens),
        num_samples=int(num_samples),
    )
    weights = np.zeros(len(tokens))
    for feature, weight in explanation.as_map()[1]:
        weights[feature] = weight
    return weights


@register_method("lime")
class Lime(CoalitionMethod):
    name = "lime"
    bounds = {"num_samples": (1, math.inf), **COALITION_BOUNDS}
    defaults: dict[str, Any] = {"num_samples": 1000, **COALITION_DEFAULTS}

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        return lime_weights(
            coalitions.feature_tokens(),
            lambda present: np.exp(coalitions.logprob(present)),
            self.params["num_samples"],
            self.params["seed"],
        )
