"""Remove input units and score what is left: the machinery every perturbation metric shares.

A removal is a boolean mask over the input's units (bench/units.py: tokens, words, sentences or
patches); removing a unit removes all its positions. Text positions are replaced by a
token (`mask`: the model's baseline token, i.e. mask, else pad, else unk; `pad`; `unk`) at the
same position, or deleted and the rest re-indexed (`delete`). Image patches (ViT) or grid
cells (CNN adapter) are replaced by black pixels (`black`, the default: an all-zero image
through the model's own preprocessing), zeros in the model's normalised input space (`zero`,
mid-grey under the usual normalisations), the image's per-channel mean (`mean`), or a Gaussian
blur of the image (`blur`). Special units are never removed.

The score y of a variant is the softmax probability of the target class for classifiers and
image classifiers, and the teacher-forced log-probability of the whole target text for causal
LMs (a sequence probability underflows for long targets; the log keeps curves comparable).
All variants of one call run as batched forward passes of at most `batch_size` rows; on a
causal LM with in-place removal each variant runs only from its first removed position on,
over the input's KV cache (`prefix_reuse`, the same values up to float rounding).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from bench.errors import InputError, NotApplicableError
from bench.grid import cell_of_pixel
from bench.models import Encoded, Model
from bench.prefix_reuse import suffix_logprobs, unchanged_pass

TEXT_REPLACEMENTS = ("mask", "pad", "unk", "delete")
IMAGE_REPLACEMENTS = ("black", "zero", "mean", "blur")
"""The first is the default: black in pixel space (zero in the model's normalised input space is
mid-grey under ImageNet or [-1, 1] normalisation, which is no removal of a grey patch)."""


def default_replacement(model: Model) -> str:
    return IMAGE_REPLACEMENTS[0] if model.kind == "image-classifier" else TEXT_REPLACEMENTS[0]


def replacement_token_id(model: Model, replacement: str) -> int:
    """The id that stands in for a removed token: `mask` falls back to pad, then unk
    (`model.baseline_token_id`); `pad` and `unk` must exist."""
    if replacement == "mask":
        return model.baseline_token_id
    token_id = getattr(model.tokenizer, f"{replacement}_token_id", None)
    if token_id is None:
        raise NotApplicableError(f"tokenizer of {model.name} has no {replacement} token")
    return int(token_id)


def image_fill(
    model: Model, pixels: torch.Tensor, replacement: str, patch_grid: tuple[int, int]
) -> torch.Tensor:
    """What removed pixels become: black (through the model's preprocessing), zero in the
    normalised input space, the per-channel mean, or a blur of the image."""
    if replacement == "black":
        return model.black_fill(pixels)
    if replacement == "zero":
        return torch.zeros_like(pixels)
    if replacement == "mean":
        return pixels.mean(dim=(-2, -1), keepdim=True).expand_as(pixels).clone()
    rows, _ = patch_grid
    sigma = pixels.shape[-2] / rows / 2  # half a patch: the patch's content is gone, its colour stays
    blurred = gaussian_filter(pixels.double().cpu().numpy(), sigma=(0, 0, sigma, sigma))
    return torch.from_numpy(blurred).to(pixels.dtype).to(pixels.device)


class Perturber:
    """Scores variants of one encoded input with chosen units removed."""

    def __init__(
        self,
        model: Model,
        encoded: Encoded,
        replacement: str | None = None,
        batch_size: int = 64,
        prefix_reuse: bool = True,
    ):
        replacement = replacement or default_replacement(model)
        allowed = IMAGE_REPLACEMENTS if model.kind == "image-classifier" else TEXT_REPLACEMENTS
        if replacement not in allowed:
            raise InputError(
                f"replacement {replacement!r} does not apply to {model.kind} inputs; "
                f"use one of {', '.join(allowed)}"
            )
        self.model = model
        self.encoded = encoded
        self.replacement = replacement
        self.batch_size = int(batch_size)
        self.prefix_reuse = prefix_reuse
        self._unchanged = None
        self._computed: dict[bytes, float] = {}
        """log p(target) of each removal computed so far, keyed by its packed mask."""
        self.units = encoded.units
        self.removable = self.units.removable
        """Units that may be removed: the non-special ones, in order."""
        if model.kind == "image-classifier":
            self._fill = image_fill(model, encoded.pixel_values, replacement, encoded.patch_grid)
        elif replacement != "delete":
            self._token_id = replacement_token_id(model, replacement)

    def scores(self, removed: np.ndarray) -> np.ndarray:
        """y for each row of `removed` ((V, n_units) bool); see the module docstring."""
        logprobs = self.logprobs(removed)
        return logprobs if self.model.kind == "causal-lm" else np.exp(logprobs)

    def logprobs(self, removed: np.ndarray) -> np.ndarray:
        """log p(target) for each row of `removed`, for every model kind (float64).

        Each distinct removal runs through the model once per perturber, and the runner shares
        one perturber across every method's row of an example: deletion and insertion steps,
        ERASER bins and AOPC steps remove the same top-k sets, methods agree on their top
        tokens, and samplers draw the same coalition again (kernel SHAP's weights favour the
        coalitions of size 1 and d - 1: 385 distinct of 500 draws on 20 features). A value
        computed in another batch may differ from a fresh one in float32's last digits (about
        1e-7 relative): values do not depend on the order of rows beyond that."""
        removed = np.atleast_2d(np.asarray(removed, dtype=bool))
        if removed.shape[1] != self.units.n_units:
            raise ValueError(f"removal masks need {self.units.n_units} columns, got {removed.shape[1]}")
        if np.any(removed & self.units.special):
            raise ValueError("special units are never removed")
        keys = [row.tobytes() for row in np.packbits(removed, axis=1)]
        new = list({key: i for i, key in enumerate(keys) if key not in self._computed}.items())
        if new:
            values = self._computed_logprobs(self.units.expand(removed[[i for _, i in new]]))
            self._computed.update(zip([key for key, _ in new], values, strict=True))
        return np.array([self._computed[key] for key in keys], dtype=np.float64)

    def _computed_logprobs(self, removed: np.ndarray) -> np.ndarray:
        """log p(target) of each row of `removed`, a (V, n_positions) mask over positions."""
        if self.reuses_prefix and (reused := self._prefix_reuse_logprobs(removed)) is not None:
            return reused
        out = []
        with torch.no_grad():
            for start in range(0, len(removed), self.batch_size):
                rows, ids = self._variants(removed[start : start + self.batch_size])
                logprob = self.model.target_logprob(self.model.batch(rows, input_ids=ids), rows)
                out.append(logprob.double().cpu())
        return torch.cat(out).numpy()

    @property
    def reuses_prefix(self) -> bool:
        """Causal LMs with in-place removal: a variant equals the input before its first removed
        position, so it runs from there on over the input's KV cache (`bench/prefix_reuse.py`)."""
        return self.prefix_reuse and self.model.kind == "causal-lm" and self.replacement != "delete"

    def _prefix_reuse_logprobs(self, removed: np.ndarray) -> np.ndarray | None:
        """The rows' log-probabilities over the input's KV cache, or None when the positions the
        shared prefix saves would not pay for the pass that makes the cache (its first use)."""
        # a row's first removed position; an untouched row still runs the last prompt position
        last = self.encoded.n_positions - 1
        starts = torch.tensor([int(np.argmax(row)) if row.any() else last for row in removed])
        if self._unchanged is None and int(starts.sum()) <= len(self.encoded.input_ids):
            return None
        with torch.no_grad():
            if self._unchanged is None:
                self._unchanged = unchanged_pass(self.model, self.encoded)
            _, layers = self._unchanged
            _, ids = self._variants(removed)
            logprobs = suffix_logprobs(
                self.model, self.encoded, layers, starts, torch.stack(ids), self.batch_size
            )
        return logprobs.sum(-1).numpy()

    def _variants(self, removed: np.ndarray) -> tuple[list[Encoded], list[torch.Tensor] | None]:
        if self.model.kind == "image-classifier":
            return [self._image_variant(mask) for mask in removed], None
        if self.replacement == "delete":
            rows = [self._deleted_variant(mask) for mask in removed]
            return rows, [row.input_ids for row in rows]
        ids = []
        for mask in removed:
            variant = self.encoded.input_ids.clone()
            variant[torch.from_numpy(np.flatnonzero(mask))] = self._token_id
            ids.append(variant)
        return [self.encoded] * len(removed), ids

    def _deleted_variant(self, mask: np.ndarray) -> Encoded:
        encoded, n = self.encoded, self.encoded.n_positions
        keep = np.flatnonzero(~mask)
        ids = torch.cat([encoded.input_ids[:n][torch.from_numpy(keep)], encoded.input_ids[n:]])
        return replace(
            encoded,
            input_ids=ids,
            tokens=[encoded.tokens[i] for i in keep],
            special=np.asarray(encoded.special)[keep],
            offsets=None,
            units=None,
        )

    def _image_variant(self, mask: np.ndarray) -> Encoded:
        encoded = self.encoded
        rows, cols = encoded.patch_grid
        first_cell = encoded.n_positions - rows * cols
        cells = cell_of_pixel(tuple(encoded.pixel_values.shape[-2:]), encoded.patch_grid)
        pixel_mask = torch.from_numpy(np.isin(cells, np.flatnonzero(mask) - first_cell))
        return replace(encoded, pixel_values=torch.where(pixel_mask, self._fill, encoded.pixel_values))
