"""Occlusion, leave-one-out: a unit's score is the drop in the target's log-probability when
that unit alone is replaced, log p(target | x) - log p(target | x without i).

captum's FeatureAblation, every unit its own feature (a feature mask groups a word's or a
sentence's tokens: bench/units.py), `perturbations_per_eval` variants per forward pass. Text:
each non-special explained unit has all its tokens replaced by the `baseline` token
(`mask`: mask, else pad, else unk); special tokens are never replaced and score 0, and a causal
LM's target tokens are never touched. Images: each patch (ViT) or grid cell (CNN adapter) has
all its pixels replaced by `image_baseline`: black in pixel space by default (the all-zero
image through the model's preprocessing: occluding means painting the region black), or zeros
in the normalised input space (mid-grey under the usual normalisations, so a grey region is
hardly occluded at all), or the image's per-channel mean; a ViT's [CLS] is no pixel region and
scores 0.
Cost: one forward pass for the input plus one per replaced unit. On a causal LM
(`prefix_reuse=True`, the default) each variant runs only from its first replaced position on, over
the input's own KV cache, as AtMan's variants do: the same drops, fewer positions computed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from captum.attr import FeatureAblation

from bench.method import Method, register_method
from bench.models import Encoded, Model
from bench.perturbation import image_fill, replacement_token_id
from bench.prefix_reuse import suffix_logprobs, unchanged_pass
from methods._captum import (
    IMAGE_BASELINES,
    TOKEN_BASELINES,
    cells_with_leading_zeros,
    model_pixels,
    pixel_cells,
    pixel_forward,
)


@register_method("occlusion")
class Occlusion(Method):
    name = "occlusion"
    bounds = {"perturbations_per_eval": (1, math.inf)}
    defaults = {
        "baseline": "mask",
        "image_baseline": "black",
        "perturbations_per_eval": 16,
        "prefix_reuse": True,  # causal LMs: run each variant from its replaced position on
    }
    choices = {"baseline": TOKEN_BASELINES, "image_baseline": IMAGE_BASELINES}
    scores_units = True

    def leave_one_out_removal(self, model: Model) -> str:
        return self.params["image_baseline" if model.kind == "image-classifier" else "baseline"]

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        per_eval = int(self.params["perturbations_per_eval"])
        if model.kind == "image-classifier":
            return self._image(model, encoded, per_eval)
        if model.kind == "causal-lm" and self.params["prefix_reuse"]:
            return self._prefix_reuse(model, encoded, per_eval)
        return self._text(model, encoded, per_eval)

    def _prefix_reuse(self, model: Model, encoded: Encoded, per_eval: int) -> np.ndarray:
        """The same drops as `_text` for a causal LM: replacing unit i leaves every position
        before its first one as it was, so each variant runs from there on over the input's own
        KV cache (`bench/prefix_reuse.py`), `perturbations_per_eval` variants per pass at most."""
        units = encoded.units
        scores = np.zeros(units.n_units)
        removable = units.removable
        if len(removable) == 0:
            return scores
        with torch.no_grad():
            plain, layers = unchanged_pass(model, encoded)
            replaced_positions = torch.from_numpy(units.expand(np.eye(units.n_units, dtype=bool)[removable]))
            variants = encoded.input_ids.repeat(len(removable), 1)
            variants[:, : encoded.n_positions][replaced_positions] = replacement_token_id(
                model, self.params["baseline"]
            )
            first = torch.from_numpy(units.starts[removable])
            replaced = suffix_logprobs(model, encoded, layers, first, variants, per_eval)
        scores[removable] = (plain.sum() - replaced.sum(-1)).numpy()
        return scores

    def _image(self, model: Model, encoded: Encoded, per_eval: int) -> np.ndarray:
        """FeatureAblation over pixels with the grid cells as features."""
        pixels = model_pixels(model, encoded)
        cells = pixel_cells(encoded)
        drops = FeatureAblation(pixel_forward(model, encoded)).attribute(
            pixels,
            baselines=image_fill(model, pixels, self.params["image_baseline"], encoded.patch_grid),
            feature_mask=cells.to(pixels.device),
            perturbations_per_eval=per_eval,
        )
        rows, cols = encoded.patch_grid
        cell_drops = np.empty(rows * cols)  # every pixel of a cell carries the cell's drop
        cell_drops[cells.reshape(-1).numpy()] = drops[0, 0].reshape(-1).double().cpu().numpy()
        return cells_with_leading_zeros(encoded, cell_drops)

    def _text(self, model: Model, encoded: Encoded, per_eval: int) -> np.ndarray:
        """FeatureAblation over the ids of the removable (non-special) positions only, which the
        forward function scatters back into the full sequence; the feature of a position is its
        unit (among the removable units)."""
        units = encoded.units
        scores = np.zeros(units.n_units)
        removable = torch.from_numpy(np.flatnonzero(~np.asarray(encoded.special, dtype=bool)))
        if len(removable) == 0:
            return scores
        ids = encoded.input_ids
        removable_units = units.removable
        feature_of_position = np.searchsorted(removable_units, units.unit_of[removable.numpy()])

        def forward(removable_ids: torch.Tensor) -> torch.Tensor:
            variants = ids.repeat(len(removable_ids), 1)
            variants[:, removable] = removable_ids.cpu()
            return model.target_logprob(
                model.batch([encoded] * len(variants), input_ids=variants), [encoded] * len(variants)
            )

        drops = FeatureAblation(forward).attribute(
            ids[removable][None],
            baselines=replacement_token_id(model, self.params["baseline"]),
            feature_mask=torch.from_numpy(feature_of_position)[None],
            perturbations_per_eval=per_eval,
        )
        # every position of a unit carries the unit's drop: read it at the unit's first position
        first_of_feature = np.searchsorted(feature_of_position, np.arange(len(removable_units)))
        scores[removable_units] = drops[0, first_of_feature].double().cpu().numpy()
        return scores
