"""Shared plumbing for the captum-backed methods: what they differentiate or ablate, and how
captum's per-element attributions become one score per explained position.

Text: gradient methods attribute to the input embeddings of the explained positions (the
prompt of a causal LM; the target tokens' embeddings stay fixed and are appended before every
forward), fed to the model through `inputs_embeds` so captum's plain Saliency, InputXGradient,
IntegratedGradients and NoiseTunnel apply unchanged. A token's score aggregates its embedding
dimensions: signed `sum` (keeps IG's completeness), or `l2` norm. Occlusion ablates token ids.

Images: everything works on `encoded.pixel_values` through `model.target_logprob`, so a ViT
and the CNN adapter are treated alike. Pixel scores are aggregated over channels (`sum` or
`l2`), then summed (signed) within each patch/cell of `encoded.patch_grid`. A ViT's [CLS] is no
pixel region: it scores 0.

The function every method explains is `model.target_logprob_from_logits`: the target class's
log-probability, or a causal LM's teacher-forced summed log-probability of the target text.
All forwards go through `model.hf`, so the adapter's pass counter sees captum's passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bench.errors import InputError
from bench.grid import cell_of_pixel, pool_to_cells
from bench.method import Method
from bench.models import Encoded, Model
from bench.perturbation import image_fill, replacement_token_id

AGGREGATIONS = ("sum", "l2")
TEXT_BASELINES = ("mask", "pad", "unk")
"""`mask` is the model's baseline token: mask, else pad, else unk."""
IMAGE_BASELINES = ("zero", "mean")
"""Zeros in the model's (normalised) input space, or the image's per-channel mean."""

Forward = Callable[[torch.Tensor], torch.Tensor]
"""A batch of (perturbed) inputs -> (B,) target log-probabilities."""


@dataclass
class Attributable:
    """The continuous input a gradient method differentiates, its baseline and its function."""

    inputs: torch.Tensor
    """(1, n_positions, hidden) prompt embeddings, or (1, C, H, W) pixels."""
    forward: Forward
    baseline: torch.Tensor | None = None
    """Same shape as `inputs`: what 'absent' means, for methods that take a baseline."""


def check_choice(method: str, param: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"method {method!r}: {param}={value!r} is not one of {', '.join(allowed)}")


def check_baselines(method: str, params: dict[str, Any]) -> None:
    check_choice(method, "baseline", params["baseline"], TEXT_BASELINES)
    check_choice(method, "image_baseline", params["image_baseline"], IMAGE_BASELINES)


def model_pixels(model: Model, encoded: Encoded) -> torch.Tensor:
    """(1, C, H, W) pixels on the model's device and dtype, a copy (never `encoded`'s own tensor)."""
    return model.batch([encoded])["pixel_values"].detach().clone()


def pixel_forward(model: Model, encoded: Encoded) -> Forward:
    return lambda pixels: model.target_logprob({"pixel_values": pixels}, [encoded] * len(pixels))


def text_attributable(model: Model, encoded: Encoded, baseline: str | None) -> Attributable:
    """Prompt embeddings; the baseline replaces every non-special explained token's embedding
    with the baseline token's, keeping special tokens (so their IG score is exactly 0)."""
    n = encoded.n_positions
    ids = encoded.input_ids.to(model.device)
    with torch.no_grad():
        embeddings = model.embedding_layer(ids[None])
        baseline_embeddings = None
        if baseline is not None:
            baseline_ids = ids[:n].clone()
            removable = torch.from_numpy(~np.asarray(encoded.special, dtype=bool)).to(model.device)
            baseline_ids[removable] = replacement_token_id(model, baseline)
            baseline_embeddings = model.embedding_layer(baseline_ids[None])
    suffix = embeddings[:, n:]  # the target tokens of a causal LM: input, never explained

    def forward(prompt: torch.Tensor) -> torch.Tensor:
        batch = len(prompt)
        full = torch.cat([prompt, suffix.expand(batch, -1, -1)], dim=1)
        mask = torch.ones(full.shape[:2], dtype=torch.long, device=full.device)
        return model.target_logprob({"inputs_embeds": full, "attention_mask": mask}, [encoded] * batch)

    return Attributable(embeddings[:, :n].clone().requires_grad_(), forward, baseline_embeddings)


def attributable(
    model: Model, encoded: Encoded, baseline: str | None = None, image_baseline_name: str | None = None
) -> Attributable:
    """What to attribute to; baselines only when named (`TEXT_BASELINES`, `IMAGE_BASELINES`)."""
    if model.kind != "image-classifier":
        return text_attributable(model, encoded, baseline)
    pixels = model_pixels(model, encoded).requires_grad_()
    fill = (
        None
        if image_baseline_name is None
        else image_fill(pixels.detach(), image_baseline_name, encoded.patch_grid)
    )
    return Attributable(pixels, pixel_forward(model, encoded), fill)


def position_scores(
    model: Model, encoded: Encoded, attributions: torch.Tensor, aggregation: str
) -> np.ndarray:
    """Captum's (1, n, hidden) or (1, C, H, W) attributions -> one float64 per explained position."""
    values = attributions[0].detach().double().cpu()
    dim = 0 if model.kind == "image-classifier" else -1  # channels of a pixel, hidden dims of a token
    values = values.sum(dim) if aggregation == "sum" else values.norm(dim=dim)
    if model.kind != "image-classifier":
        return values.numpy()
    return cells_with_leading_zeros(encoded, pool_to_cells(values.numpy(), encoded.patch_grid))


def cells_with_leading_zeros(encoded: Encoded, cell_scores: np.ndarray) -> np.ndarray:
    """Cell scores placed after the non-pixel positions ([CLS] of a ViT), which score 0."""
    leading = encoded.n_positions - len(cell_scores)
    return np.concatenate([np.zeros(leading), cell_scores])


def pixel_cells(encoded: Encoded) -> torch.Tensor:
    """(1, 1, H, W) long: the grid cell of every pixel, a captum feature mask over cells."""
    shape = tuple(encoded.pixel_values.shape[-2:])
    return torch.from_numpy(cell_of_pixel(shape, encoded.patch_grid))[None, None]


class CaptumGradientMethod(Method):
    """A gradient method over `Attributable`: subclasses implement `run` with one captum call."""

    model_kinds = ("classifier", "causal-lm", "image-classifier")
    needs_gradients = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        check_choice(self.name, "aggregation", self.params["aggregation"], AGGREGATIONS)
        if "baseline" in self.params:
            check_baselines(self.name, self.params)

    def run(self, target: Attributable) -> torch.Tensor:
        """Captum's attributions, the shape of `target.inputs`."""
        raise NotImplementedError

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        target = attributable(model, encoded, self.params.get("baseline"), self.params.get("image_baseline"))
        with torch.enable_grad():
            attributions = self.run(target)
        return position_scores(model, encoded, attributions, self.params["aggregation"])
