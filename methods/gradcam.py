"""GradCAM (Selvaraju et al. 2017) for image classifiers: a ViT's patch tokens or a CNN's last conv layer.

GradCAM weights each channel of a late feature map by its mean gradient towards the target's
output (`target_output`: the logit by default, as the paper and captum's `target=` do; or the
log-probability) and keeps the positive part of the weighted sum: where the features the
target is sensitive to light up.

ViT: the feature map is the patch tokens entering the last block (its input, not its
output: the last block's output reaches the class only through [CLS], so the gradient on its
patch tokens is exactly zero). Scores are one per Encoded position, [CLS] scored 0.
CNN: captum's LayerGradCam on the last Conv2d, upsampled bilinearly to the input pixels and
pooled into the adapter's grid cells (signed sum, like every pixel method).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam

from bench.cnn import CNNModel
from bench.errors import NotApplicableError
from bench.grid import pool_to_cells
from bench.method import Method, register_method
from bench.models import TARGET_OUTPUTS, Encoded, Model
from methods._attention_maps import AttentionMaps, gradient_scores


def grad_cam(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """ReLU(sum_c w_c * activations[:, c]) with w_c the mean gradient of channel c over positions;
    (positions, channels) in, (positions,) out."""
    return (activations @ gradients.mean(0)).clamp(min=0)


def patch_grad_cam(
    maps: AttentionMaps, encoded: Encoded, row: int, gradients: list[torch.Tensor]
) -> torch.Tensor:
    """GradCAM on the patch tokens entering a ViT's last block; [CLS] scores 0."""
    if len(maps.hidden_states) < 2:
        raise NotApplicableError("the model has no transformer block to take GradCAM on")
    patches = grad_cam(maps.hidden_states[-2][1:], gradients[-2][1:])
    return torch.cat([torch.zeros(1, dtype=patches.dtype), patches])


def last_conv_layer(module: torch.nn.Module) -> torch.nn.Conv2d:
    convs = [layer for layer in module.modules() if isinstance(layer, torch.nn.Conv2d)]
    if not convs:
        raise NotApplicableError(f"{type(module).__name__} has no Conv2d layer for GradCAM")
    return convs[-1]


@register_method("gradcam")
class GradCAM(Method):
    name = "gradcam"
    bounds = {"batch_size": (1, math.inf)}
    defaults = {"target_output": "logit", "batch_size": 16}
    choices = {"target_output": TARGET_OUTPUTS}
    model_kinds = ("image-classifier",)
    needs_gradients = True

    def attribute_batch(self, model: Model, batch: list[Encoded]) -> list[np.ndarray]:
        if isinstance(model, CNNModel):
            return self._cnn(model, batch)
        return gradient_scores(
            model,
            batch,
            patch_grad_cam,
            "hidden_states",
            batch_size=int(self.params["batch_size"]),
            target_output=self.params["target_output"],
        )

    def _cnn(self, model: CNNModel, batch: list[Encoded]) -> list[np.ndarray]:
        logit = self.params["target_output"] == "logit"
        gradcam = LayerGradCam(
            lambda pixels: model.hf(pixels) if logit else model.hf(pixels).log_softmax(-1),
            last_conv_layer(model.hf),
        )
        scores = []
        size = int(self.params["batch_size"])
        for start in range(0, len(batch), size):
            rows = batch[start : start + size]
            pixels = model.batch(rows)["pixel_values"]
            cam = gradcam.attribute(pixels, target=[row.target for row in rows], relu_attributions=True)
            cam = LayerAttribution.interpolate(cam.detach(), tuple(pixels.shape[-2:]), "bilinear")
            scores += [pool_to_cells(c[0].double().cpu().numpy(), model.grid) for c in cam]
        return scores
