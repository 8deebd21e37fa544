"""The coalition game the sampling methods explain, computed by hand (explicit ids and pixel
slices, no `methods._coalitions`): log p(target) with the absent features removed."""

from dataclasses import replace

import numpy as np
import torch


def features(encoded) -> np.ndarray:
    return np.flatnonzero(~np.asarray(encoded.special, dtype=bool))


def value(model, encoded, present) -> float:
    """log p(target) with the non-special positions whose `present` entry is False removed: text
    tokens become the model's baseline token, image cells become black: -1 for both tiny image
    models, which normalise pixel values 0..255 to [-1, 1]."""
    absent = features(encoded)[~np.asarray(present, dtype=bool)]
    ids, pixels = encoded.input_ids.clone(), encoded.pixel_values
    if model.kind == "image-classifier":
        pixels = pixels.clone()
        rows, cols = encoded.patch_grid
        height, width = pixels.shape[-2] // rows, pixels.shape[-1] // cols
        first_cell = encoded.n_positions - rows * cols  # a ViT's [CLS] comes first
        for position in absent:
            r, c = divmod(int(position) - first_cell, cols)
            pixels[..., r * height : (r + 1) * height, c * width : (c + 1) * width] = -1
    else:
        ids[torch.from_numpy(absent)] = model.baseline_token_id
    row = replace(encoded, pixel_values=pixels)
    with torch.no_grad():
        inputs = model.batch([row], input_ids=None if model.kind == "image-classifier" else [ids])
        return float(model.target_logprob(inputs, [row])[0])


def full_minus_empty(model, encoded) -> float:
    """f(x) - f(every feature removed): what an efficient attribution sums to."""
    n = len(features(encoded))
    return value(model, encoded, np.ones(n, bool)) - value(model, encoded, np.zeros(n, bool))
