"""Partition SHAP (Owen values over a feature hierarchy) through the `shap` library.

Text: shap's Text masker over the model's tokenizer, in token-id mode, so shap's features are
exactly the tokenizer's tokens of the input (the model's explained positions, special tokens
included) and its hierarchy is shap's own text clustering. The masker marks hidden tokens with
an id absent from the input; the model function reads the marks as a coalition and removes
those positions as in `methods._coalitions` (the `baseline` token), which keeps special tokens.
No text round-trip happens, so nothing is lost in re-tokenising.

Images: one feature per ViT patch or CNN grid cell, hidden with the `image_baseline` fill,
under a Ward clustering of the cells' grid coordinates (neighbouring cells merge first).

The explained value is log p(target) (class log-probability, or a causal LM's teacher-forced
log-probability of the target text). Partition SHAP is efficient by construction: the scores
sum to f(x) - f(all features hidden), also when `max_evals` runs out (the unexpanded groups'
credit is spread over their members). Ties in shap's expansion queue are broken by numpy's
global generator, seeded with `seed` for the call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import linkage

from bench.errors import InputError
from bench.method import register_method
from methods._coalitions import COALITION_DEFAULTS, CoalitionMethod, Coalitions, seeded


class CellMasker:
    """A shap masker over image cells: the 'masked input' is the coalition itself."""

    def __init__(self, grid: tuple[int, int], n_features: int) -> None:
        rows, cols = grid
        coordinates = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=np.float64)
        self.clustering = linkage(coordinates, method="ward")
        self.shape = (1, n_features)

    def __call__(self, mask: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.asarray(mask, dtype=np.float64)[None]


@register_method("shap")
class PartitionShap(CoalitionMethod):
    name = "shap"
    defaults: dict[str, Any] = {"max_evals": 500, **COALITION_DEFAULTS}

    def feature_scores(self, coalitions: Coalitions) -> np.ndarray:
        import shap

        if coalitions.model.kind == "image-classifier":
            masker, value, inputs = cell_game(coalitions)
        else:
            masker, value, inputs = text_game(coalitions)
        explainer = shap.Explainer(value, masker, algorithm="partition")
        with seeded(int(self.params["seed"])):
            result = explainer(
                inputs,
                max_evals=int(self.params["max_evals"]),
                batch_size=int(self.params["batch_size"]),
                silent=True,
            )
        values = np.asarray(result.values[0], dtype=np.float64)
        return values if coalitions.model.kind == "image-classifier" else values[coalitions.features]


def cell_game(coalitions: Coalitions) -> tuple[CellMasker, Callable[[np.ndarray], np.ndarray], np.ndarray]:
    """Masker, value function and input for image cells: shap's input is the all-present coalition."""
    grid = coalitions.encoded.patch_grid
    if grid[0] * grid[1] != coalitions.n_features:
        raise InputError(f"expected one feature per cell of the {grid} grid, got {coalitions.n_features}")
    masker = CellMasker(grid, coalitions.n_features)
    return (
        masker,
        lambda rows: coalitions.logprob(np.asarray(rows) > 0.5),
        np.ones((1, coalitions.n_features)),
    )


def text_game(coalitions: Coalitions) -> tuple[Any, Callable[[np.ndarray], np.ndarray], list[str]]:
    """shap's Text masker over the model's tokenizer (token-id output), a value function that
    reads its marks, and the input text. Its features are all explained positions, specials too."""
    import shap

    model, encoded = coalitions.model, coalitions.encoded
    prompt = encoded.input_ids[: encoded.n_positions].numpy()
    text = encoded.text
    if text is None:  # an Encoded built by hand: recover the text, checked below
        text = model.tokenizer.decode(prompt, skip_special_tokens=True)
    mark = next(i for i in range(len(prompt) + 1) if i not in set(prompt.tolist()))
    masker = shap.maskers.Text(model.tokenizer, mask_token=mark, output_type="token_ids")
    if not np.array_equal(np.asarray(masker.token_segments(text)[1]), prompt):
        raise InputError(
            "shap's Text masker tokenises this input differently from the model adapter, "
            "so its scores would not align with the model's tokens"
        )
    features = coalitions.features
    return masker, lambda rows: coalitions.logprob(np.asarray(rows)[:, features] != mark), [text]
