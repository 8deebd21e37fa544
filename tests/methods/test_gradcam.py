"""GradCAM equals a hand computation from activations and gradients captured with hooks."""

import numpy as np
import pytest
import torch

import bench
from bench.errors import NotApplicableError
from tests.tiny import tiny_cnn, tiny_image


def captured(
    model, layer: torch.nn.Module, target: int, use_input: bool, output: str = "logit"
) -> tuple[np.ndarray, np.ndarray]:
    """The layer's input (or output) activations on tiny_image() and d output / d them, where the
    output is the target's logit or log-probability, taken from the module's raw logits."""
    seen = {}
    if use_input:
        handle = layer.register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    else:
        handle = layer.register_forward_hook(lambda module, args, output: seen.update(x=output))
    try:
        encoded = model.encode(tiny_image(), target)
        pixels = model.batch([encoded])["pixel_values"]
        logits = model.hf(pixels) if isinstance(model.hf, torch.nn.Sequential) else model.hf(pixels).logits
        value = logits[0, target] if output == "logit" else logits[0].double().log_softmax(-1)[target]
    finally:
        handle.remove()
    (gradient,) = torch.autograd.grad(value, seen["x"])
    return seen["x"][0].detach().double().numpy(), gradient[0].double().numpy()


@pytest.mark.parametrize("output", ["logit", "logprob"])
def test_vit_gradcam_weights_the_last_blocks_patch_tokens_by_their_mean_gradient(vit, output):
    activations, gradients = captured(vit, vit.hf.vit.layers[-1], 2, use_input=True, output=output)
    weights = gradients[1:].mean(0)  # one weight per channel, averaged over the patches
    expected = np.maximum(np.array([activations[p] @ weights for p in range(1, len(activations))]), 0)

    explanation = bench.explain("gradcam", vit, tiny_image(), target=2, target_output=output)
    assert explanation.scores[0] == 0  # [CLS]
    np.testing.assert_allclose(explanation.scores[1:], expected, rtol=1e-5, atol=1e-7)
    assert (expected > 0).sum() >= 2 and (expected == 0).sum() >= 1  # the ReLU acted, not all zero
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1, 1)


def test_the_last_blocks_output_patches_get_no_gradient_in_a_vit(vit):
    """Why GradCAM reads the last block's input: its output reaches the class through [CLS] only."""
    _, gradients = captured(vit, vit.hf.vit.layers[-1], 2, use_input=False)
    assert np.abs(gradients[1:]).max() == 0 and np.abs(gradients[0]).max() > 0


@pytest.mark.parametrize("output", ["logit", "logprob"])
def test_cnn_gradcam_is_the_upsampled_last_conv_map_pooled_into_cells(output):
    cnn = tiny_cnn()
    convs = [layer for layer in cnn.hf if isinstance(layer, torch.nn.Conv2d)]
    activations, gradients = captured(cnn, convs[-1], 1, use_input=False, output=output)  # (channels, 8, 8)
    weights = gradients.mean(axis=(1, 2))
    cam = np.maximum(np.einsum("c,chw->hw", weights, activations), 0)
    upsample = torch.nn.functional.interpolate
    pixels = upsample(torch.tensor(cam)[None, None], size=(16, 16), mode="bilinear")[0, 0].numpy()
    expected = [pixels[4 * r : 4 * r + 4, 4 * c : 4 * c + 4].sum() for r in range(4) for c in range(4)]

    explanation = bench.explain("gradcam", cnn, tiny_image(), target=1, target_output=output)
    assert explanation.patch_grid == (4, 4)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-7)
    assert np.ptp(expected) > 0


def test_gradcam_refuses_text_models(bert):
    with pytest.raises(NotApplicableError, match="does not apply to classifier"):
        bench.explain("gradcam", bert, "free cash", target=0)
