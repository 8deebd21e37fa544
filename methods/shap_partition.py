"""Partition SHAP (Owen values over a feature hierarchy) through the `shap` library.

Features are the non-special units (`methods._coalitions`); shap's masker here
hands the coalition itself to the value function, which removes the absent positions the way
every coalition method does (the `baseline` token for text, the `image_baseline` fill for
images), so nothing goes through a lossy text round-trip. The hierarchy Partition SHAP walks:

- text: shap's Text masker over the model's tokenizer supplies its clustering (word pieces
  first, then words, phrases, sentences), with the special tokens taken out of the tree; a
  word or sentence unit is the leaf of its first token, its other tokens taken out likewise;
- images: a Ward clustering of the cells' grid coordinates (neighbouring cells merge first).

The explained value is log p(target) (class log-probability, or a causal LM's teacher-forced
log-probability of the target text). Partition SHAP is efficient by construction: the scores
sum to f(x) - f(all features hidden), also when `max_evals` runs out (the unexpanded groups'
credit is spread over their members). Ties in shap's expansion queue are broken by numpy's
global generator, seeded with `seed` for the call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import linkage

from bench.errors import InputError
from bench.method import register_method
from methods._coalitions import COALITION_BOUNDS, COALITION_DEFAULTS, CoalitionMethod, Coalitions, seeded


class CoalitionMasker:
    """A shap masker whose 'masked input' is the coalition itself (1 = present), over features
    arranged by `clustering` (a scipy linkage matrix, as shap's Partition explainer expects)."""

    def __init__(self, clustering: np.ndarray, n_features: int) -> None:
        self.clustering = clustering
        self.shape = (1, n_features)

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(mask, dtype=np.float64)[None]


@register_method("shap")
class PartitionShap(CoalitionMethod):
    name = "shap"
    bounds = {"max_evals": (1, math.inf), **COALITION_BOUNDS}
    defaults: dict[str, Any] = {"max_evals": 500, **COALITION_DEFAULTS}

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        import shap

        if coalitions.model.kind == "image-classifier":
            clustering = cell_clustering(coalitions)
        else:
            clustering = text_clustering(coalitions)
        masker = CoalitionMasker(clustering, coalitions.n_features)
        explainer = shap.Explainer(lambda rows: coalitions.logprob(rows > 0.5), masker, algorithm="partition")
        with seeded(int(self.params["seed"])):
            result = explainer(
                np.ones((1, coalitions.n_features)),
                max_evals=int(self.params["max_evals"]),
                batch_size=int(self.params["batch_size"]),
                silent=True,
            )
        return np.asarray(result.values[0], dtype=np.float64)


def cell_clustering(coalitions: Coalitions) -> np.ndarray:
    """Ward clustering of the image cells' grid coordinates: neighbouring cells merge first."""
    rows, cols = coalitions.encoded.patch_grid
    if rows * cols != coalitions.n_features:
        raise InputError(
            f"expected one feature per cell of the {rows}x{cols} grid, got {coalitions.n_features}"
        )
    coordinates = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=np.float64)
    return linkage(coordinates, method="ward")


def text_clustering(coalitions: Coalitions) -> np.ndarray:
    """shap's Text masker hierarchy over the model's tokens (word pieces, then words, phrases,
    sentences), restricted to the features. The masker tokenises the text itself; its tokens
    must be the model's explained positions, or the hierarchy would not fit them."""
    import shap

    model, encoded = coalitions.model, coalitions.encoded
    prompt = encoded.input_ids[: encoded.n_positions].numpy()
    text = encoded.text
    if text is None:  # an Encoded built by hand: recover the text, checked below
        text = model.tokenizer.decode(prompt, skip_special_tokens=True)
    masker = shap.maskers.Text(model.tokenizer)
    if not np.array_equal(np.asarray(masker.token_segments(text)[1]), prompt):
        raise InputError(
            "shap's Text masker tokenises this input differently from the model adapter, "
            "so its hierarchy would not fit the model's tokens"
        )
    first_positions = encoded.units.starts[coalitions.features]
    return restrict_linkage(masker.clustering(text), first_positions)


def restrict_linkage(clustering: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The linkage matrix over the leaves `keep` only (renumbered 0..k-1 in order): a merge with
    a removed side passes its kept side up unchanged. Special tokens leave shap's tree this way,
    so no credit ever reaches them and efficiency holds over the features."""
    n_leaves = len(clustering) + 1
    new_id = {int(leaf): i for i, leaf in enumerate(keep)}
    sizes = [1] * len(keep)
    rows = []
    for i, (left, right, distance, _) in enumerate(clustering):
        a, b = new_id.get(int(left)), new_id.get(int(right))
        if a is None or b is None:
            if a is not None or b is not None:
                new_id[n_leaves + i] = a if a is not None else b
            continue
        rows.append([a, b, distance, sizes[a] + sizes[b]])
        new_id[n_leaves + i] = len(sizes)
        sizes.append(sizes[a] + sizes[b])
    return np.array(rows, dtype=np.float64).reshape(-1, 4)
