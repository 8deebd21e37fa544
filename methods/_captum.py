"""Shared plumbing for the captum-backed methods: what they differentiate or ablate, and how
captum's per-element attributions become one score per explained position.

Text: gradient methods attribute to the input embeddings of the explained positions (the
prompt of a causal LM; the target tokens' embeddings stay fixed and are appended before every
forward), fed to the model through `inputs_embeds` so captum's plain Saliency, InputXGradient,
IntegratedGradients and NoiseTunnel apply unchanged. A token's score aggregates its embedding
dimensions: signed `sum` (keeps IG's completeness), or `l2` norm. Occlusion ablates token ids.

Images: everything works on `encoded.pixel_values` through `model.target_output`, so a ViT
and the CNN adapter are treated alike. Pixel scores are aggregated over channels (`sum` or
`l2`), then summed (signed) within each patch/cell of `encoded.patch_grid`. A ViT's [CLS] is no
pixel region: it scores 0.

What a gradient method differentiates is its `target_output` (`model.target_values_from_logits`):
`"logit"`, the target's pre-softmax logit (the default: captum's `target=` convention, Chefer's
`one_hot * output` and the AtMan repository's `captum_helper.py` all differentiate the logit),
or `"logprob"`, its log-probability. For a causal LM both are summed over the target tokens,
each read at the position that predicts it; the methods here are linear in the explained
output, so the attribution of the sum is the sum of the per-token attributions.
All forwards go through `model.hf`, so the adapter's pass counter sees captum's passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from bench.grid import cell_of_pixel, pool_to_cells
from bench.method import Method
from bench.models import TARGET_OUTPUTS, Encoded, Model
from bench.perturbation import image_fill, replacement_token_id

AGGREGATIONS = ("sum", "l2")
TOKEN_BASELINES = ("mask", "pad", "unk")
"""A token that stands for 'absent'; `mask` is the model's baseline token: mask, else pad, else unk."""
TEXT_BASELINES = (*TOKEN_BASELINES, "zero")
"""For methods on embeddings: a token's embedding, or the zero vector (captum's default baseline)."""
IMAGE_BASELINES = ("black", "zero", "mean")
"""Black pixels (through the model's preprocessing), zeros in the model's normalised input space
(captum's default baseline), or the image's per-channel mean."""

Forward = Callable[[torch.Tensor], torch.Tensor]
"""A batch of (perturbed) inputs -> (B,) target outputs."""


@dataclass
class Attributable:
    """The continuous input a gradient method differentiates, its baseline and its function."""

    inputs: torch.Tensor
    """(1, n_positions, hidden) prompt embeddings, or (1, C, H, W) pixels."""
    forward: Forward
    baseline: torch.Tensor | None = None
    """Same shape as `inputs`: what 'absent' means, for methods that take a baseline."""


def model_pixels(model: Model, encoded: Encoded) -> torch.Tensor:
    """(1, C, H, W) pixels on the model's device and dtype, a copy (never `encoded`'s own tensor)."""
    return model.batch([encoded])["pixel_values"].detach().clone()


def pixel_forward(model: Model, encoded: Encoded, output: str = "logprob") -> Forward:
    return lambda pixels: model.target_output({"pixel_values": pixels}, [encoded] * len(pixels), output)


def text_attributable(model: Model, encoded: Encoded, baseline: str | None, output: str) -> Attributable:
    """Prompt embeddings; the baseline replaces every non-special explained token's embedding
    with the baseline token's (or zeros), keeping special tokens (so their IG score is exactly 0)."""
    n = encoded.n_positions
    ids = encoded.input_ids.to(model.device)
    with torch.no_grad():
        embeddings = model.embedding_layer(ids[None])
        baseline_embeddings = None
        if baseline is not None:
            removable = torch.from_numpy(~np.asarray(encoded.special, dtype=bool)).to(model.device)
            if baseline == "zero":
                baseline_embeddings = embeddings[:, :n].clone()
                baseline_embeddings[:, removable] = 0
            else:
                baseline_ids = ids[:n].clone()
                baseline_ids[removable] = replacement_token_id(model, baseline)
                baseline_embeddings = model.embedding_layer(baseline_ids[None])
    suffix = embeddings[:, n:]  # the target tokens of a causal LM: input, never explained

    def forward(prompt: torch.Tensor) -> torch.Tensor:
        batch = len(prompt)
        # captum's noise and interpolations may arrive in float32 for a bfloat16 model
        full = torch.cat([prompt.to(suffix.dtype), suffix.expand(batch, -1, -1)], dim=1)
        mask = torch.ones(full.shape[:2], dtype=torch.long, device=full.device)
        inputs = {"inputs_embeds": full, "attention_mask": mask}
        return model.target_output(inputs, [encoded] * batch, output)

    return Attributable(embeddings[:, :n].clone().requires_grad_(), forward, baseline_embeddings)


def attributable(
    model: Model,
    encoded: Encoded,
    baseline: str | None = None,
    image_baseline_name: str | None = None,
    output: str = "logprob",
) -> Attributable:
    """What to attribute to; baselines only when named (`TEXT_BASELINES`, `IMAGE_BASELINES`)."""
    if model.kind != "image-classifier":
        return text_attributable(model, encoded, baseline, output)
    pixels = model_pixels(model, encoded).requires_grad_()
    fill = (
        None
        if image_baseline_name is None
        else image_fill(model, pixels.detach(), image_baseline_name, encoded.patch_grid)
    )
    return Attributable(pixels, pixel_forward(model, encoded, output), fill)


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
    choices = {
        "aggregation": AGGREGATIONS,
        "target_output": TARGET_OUTPUTS,
        "baseline": TEXT_BASELINES,
        "image_baseline": IMAGE_BASELINES,
    }

    def run(self, target: Attributable) -> torch.Tensor:
        """Captum's attributions, the shape of `target.inputs`."""
        raise NotImplementedError

    def attribute(self, model: Model, encoded: Encoded) -> np.ndarray:
        target = attributable(
            model,
            encoded,
            self.params.get("baseline"),
            self.params.get("image_baseline"),
            self.params["target_output"],
        )
        with torch.enable_grad():
            attributions = self.run(target)
        return position_scores(model, encoded, attributions, self.params["aggregation"])
