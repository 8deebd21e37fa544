"""The captum gradient methods against hand autograd computations and the IG completeness axiom.

What they differentiate is written out here from the model's raw logits: the target's logit (the
default `target_output`) or its log-probability, summed over a causal LM's target tokens, each
read at the position that predicts it."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import bench
from bench.api import get_method
from bench.errors import InputError
from tests.tiny import tiny_cnn, tiny_image

TEXT = "free cash prize call now"
TARGETS = {"bert": 1, "gpt2": " claim", "llama": " claim", "vit": 2, "cnn": 0}
FAST = {
    "saliency": {},
    "input-x-gradient": {},
    "integrated-gradients": {"n_steps": 4},
    "smoothgrad": {"n_samples": 4},
}


def get_model(name, request):
    return tiny_cnn() if name == "cnn" else request.getfixturevalue(name)


def encoded_inputs(name):
    return tiny_image() if name in ("vit", "cnn") else TEXT


def encode(model, name):
    return model.encode(encoded_inputs(name), TARGETS[name])


def raw_logits(model, inputs: dict) -> torch.Tensor:
    """(1, classes) or (1, T, vocabulary) logits straight from the wrapped module."""
    if model.kind == "image-classifier" and not hasattr(model.hf, "config"):  # the CNN
        return model.hf(inputs["pixel_values"])
    return model.hf(**inputs).logits


def explained(model, encoded, logits: torch.Tensor, output: str) -> torch.Tensor:
    """The target's logit or log-probability; a causal LM's summed over its target tokens."""
    if output == "logprob":
        logits = logits.double().log_softmax(-1)
    if model.kind != "causal-lm":
        return logits[0, encoded.target]
    n = encoded.n_positions
    return sum(logits[0, n - 1 + t, int(token)] for t, token in enumerate(encoded.target_ids))


def output_of(model, encoded, ids=None, output="logit") -> float:
    with torch.no_grad():
        inputs = model.batch([encoded], input_ids=None if ids is None else [ids])
        return float(explained(model, encoded, raw_logits(model, inputs), output))


def embedding_gradient(model, encoded, output="logit") -> tuple[np.ndarray, np.ndarray]:
    """Prompt embeddings (n, hidden) and d output / d them, through the input_ids path."""
    seen = {}
    layer = model.hf.get_input_embeddings()
    handle = layer.register_forward_hook(lambda module, args, out: seen.update(e=out))
    try:
        value = explained(model, encoded, raw_logits(model, model.batch([encoded])), output)
    finally:
        handle.remove()
    (gradient,) = torch.autograd.grad(value, seen["e"])
    n = encoded.n_positions
    return seen["e"][0, :n].detach().double().numpy(), gradient[0, :n].double().numpy()


def pixel_gradient(model, encoded, output="logit") -> tuple[np.ndarray, np.ndarray]:
    """Pixels (C, H, W) and d output / d pixels."""
    pixels = encoded.pixel_values.clone().requires_grad_()
    value = explained(model, encoded, raw_logits(model, {"pixel_values": pixels}), output)
    (gradient,) = torch.autograd.grad(value, pixels)
    return pixels[0].detach().double().numpy(), gradient[0].double().numpy()


def per_patch(pixel_scores: np.ndarray, encoded) -> np.ndarray:
    """Explicit loop: signed sum of (H, W) scores in each grid cell, after one 0 per non-pixel position."""
    rows, cols = encoded.patch_grid
    height, width = pixel_scores.shape[0] // rows, pixel_scores.shape[1] // cols
    cells = [
        pixel_scores[r * height : (r + 1) * height, c * width : (c + 1) * width].sum()
        for r in range(rows)
        for c in range(cols)
    ]
    return np.array([0.0] * (encoded.n_positions - rows * cols) + cells)


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit", "cnn"])
def test_integrated_gradients_is_complete_at_200_steps(name, request):
    """Sum of scores = f(input) - f(baseline), the baseline built here independently."""
    model = get_model(name, request)
    encoded = encode(model, name)
    if model.kind == "image-classifier":
        baseline = output_of(model, replace(encoded, pixel_values=torch.zeros_like(encoded.pixel_values)))
    else:
        ids = encoded.input_ids.clone()
        for i in range(encoded.n_positions):
            if not encoded.special[i]:
                ids[i] = model.tokenizer.mask_token_id
        baseline = output_of(model, encoded, ids)
    difference = output_of(model, encoded) - baseline
    assert abs(difference) > 0.05  # a real gap, or the check says nothing

    explanation = bench.explain(
        "integrated-gradients", model, encoded_inputs(name), TARGETS[name], n_steps=200, batch_size=200
    )
    assert abs(explanation.scores.sum() - difference) <= 0.02 * abs(difference)
    assert np.all(explanation.scores[encoded.special] == 0)  # kept in the baseline (text), [CLS] (ViT)
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (200, 200)


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_zero_text_baseline_is_complete_against_zero_embeddings(name, request):
    """captum's default baseline: the zero vector at every non-special explained position."""
    model = request.getfixturevalue(name)
    encoded = encode(model, name)
    n = encoded.n_positions
    with torch.no_grad():
        embeddings = model.hf.get_input_embeddings()(encoded.input_ids[None]).clone()
        embeddings[0, np.flatnonzero(~encoded.special)] = 0
        inputs = {"inputs_embeds": embeddings, "attention_mask": torch.ones(1, len(encoded.input_ids))}
        baseline = float(explained(model, encoded, raw_logits(model, inputs), "logit"))
    difference = output_of(model, encoded) - baseline
    assert abs(difference) > 0.05 and n > 0
    explanation = bench.explain(
        "integrated-gradients", model, TEXT, TARGETS[name], baseline="zero", n_steps=200, batch_size=200
    )
    assert abs(explanation.scores.sum() - difference) <= 0.02 * abs(difference)


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
@pytest.mark.parametrize("output", ["logit", "logprob"])
def test_text_gradients_of_either_output_equal_hand_autograd(name, output, request):
    model = request.getfixturevalue(name)
    embeddings, gradient = embedding_gradient(model, encode(model, name), output)
    saliency = bench.explain("saliency", model, TEXT, TARGETS[name], target_output=output)
    np.testing.assert_allclose(saliency.scores, np.linalg.norm(gradient, axis=-1), rtol=1e-4, atol=1e-6)
    input_x_gradient = bench.explain("input-x-gradient", model, TEXT, TARGETS[name], target_output=output)
    np.testing.assert_allclose(input_x_gradient.scores, (embeddings * gradient).sum(-1), rtol=1e-4, atol=1e-6)


def test_the_logit_and_the_logprob_give_different_gradients(llama):
    """Otherwise the two checks above could pass with one output for both."""
    encoded = encode(llama, "llama")
    _, logit = embedding_gradient(llama, encoded, "logit")
    _, logprob = embedding_gradient(llama, encoded, "logprob")
    assert np.abs(logit - logprob).max() > 0.1 * np.abs(logit).max()


@pytest.mark.parametrize("name", ["bert", "gpt2", "llama"])
def test_text_gradients_equal_hand_autograd_on_the_embeddings(name, request):
    model = request.getfixturevalue(name)
    embeddings, gradient = embedding_gradient(model, encode(model, name))

    saliency = bench.explain("saliency", model, TEXT, TARGETS[name])
    np.testing.assert_allclose(saliency.scores, np.linalg.norm(gradient, axis=-1), rtol=1e-4, atol=1e-6)
    signed = bench.explain("saliency", model, TEXT, TARGETS[name], aggregation="sum")
    np.testing.assert_allclose(signed.scores, gradient.sum(-1), rtol=1e-4, atol=1e-5)
    input_x_gradient = bench.explain("input-x-gradient", model, TEXT, TARGETS[name])
    np.testing.assert_allclose(input_x_gradient.scores, (embeddings * gradient).sum(-1), rtol=1e-4, atol=1e-6)
    l2 = bench.explain("input-x-gradient", model, TEXT, TARGETS[name], aggregation="l2")
    np.testing.assert_allclose(
        l2.scores, np.linalg.norm(embeddings * gradient, axis=-1), rtol=1e-4, atol=1e-6
    )
    assert (saliency.cost.forward_passes, saliency.cost.backward_passes) == (1, 1)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_signed_gradient_sum_vanishes_under_layernorm(name, request):
    """Why saliency defaults to l2: LayerNorm ignores a common shift, so the gradient sums to 0."""
    model = request.getfixturevalue(name)
    _, gradient = embedding_gradient(model, encode(model, name))
    assert np.abs(gradient.sum(-1)).max() < 1e-4 * np.linalg.norm(gradient, axis=-1).max()


@pytest.mark.parametrize("name", ["vit", "cnn"])
def test_pixel_gradients_equal_hand_autograd_pooled_per_patch(name, request):
    model = get_model(name, request)
    encoded = encode(model, name)
    pixels, gradient = pixel_gradient(model, encoded)

    saliency = bench.explain("saliency", model, tiny_image(), TARGETS[name])
    np.testing.assert_allclose(
        saliency.scores, per_patch(np.linalg.norm(gradient, axis=0), encoded), rtol=1e-4, atol=1e-7
    )
    input_x_gradient = bench.explain("input-x-gradient", model, tiny_image(), TARGETS[name])
    expected = per_patch((pixels * gradient).sum(0), encoded)
    np.testing.assert_allclose(input_x_gradient.scores, expected, rtol=1e-4, atol=1e-7)
    assert saliency.patch_grid == encoded.patch_grid


@pytest.mark.parametrize("name", ["bert", "vit"])
def test_smoothgrad_is_seeded(name, request):
    model = get_model(name, request)
    inputs = encoded_inputs(name)
    torch.manual_seed(123)
    first = bench.explain("smoothgrad", model, inputs, TARGETS[name], n_samples=8, seed=1)
    global_draw = torch.rand(1)
    again = bench.explain("smoothgrad", model, inputs, TARGETS[name], n_samples=8, seed=1)
    other = bench.explain("smoothgrad", model, inputs, TARGETS[name], n_samples=8, seed=2)
    np.testing.assert_array_equal(first.scores, again.scores)
    assert np.abs(first.scores - other.scores).max() > 1e-3 * np.abs(first.scores).max()
    torch.manual_seed(123)
    assert torch.rand(1) == global_draw  # the global RNG is left as it was
    assert (first.cost.forward_passes, first.cost.backward_passes) == (8, 8)


@pytest.mark.parametrize("name", ["llama", "vit"])
def test_smoothgrad_without_noise_is_saliency(name, request):
    model = get_model(name, request)
    inputs = encoded_inputs(name)
    smooth = bench.explain("smoothgrad", model, inputs, TARGETS[name], n_samples=3, noise_level=0.0)
    saliency = bench.explain("saliency", model, inputs, TARGETS[name])
    np.testing.assert_allclose(smooth.scores, saliency.scores, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", FAST)
@pytest.mark.parametrize("name", ["bert", "gpt2", "llama", "vit", "cnn"])
def test_every_gradient_method_gives_one_finite_score_per_position(method, name, request):
    model = get_model(name, request)
    encoded = encode(model, name)
    explanation = bench.explain(method, model, encoded_inputs(name), TARGETS[name], **FAST[method])
    assert explanation.tokens == encoded.tokens and len(explanation.scores) == encoded.n_positions
    assert np.all(np.isfinite(explanation.scores)) and np.abs(explanation.scores).max() > 0
    assert explanation.cost.backward_passes == explanation.cost.forward_passes > 0
    assert all(p.grad is None for p in model.hf.parameters())


def test_bad_parameters_are_refused_by_name():
    with pytest.raises(InputError, match="aggregation='max'"):
        get_method("saliency", aggregation="max")
    with pytest.raises(InputError, match="baseline='zeros'"):
        get_method("integrated-gradients", baseline="zeros")
    with pytest.raises(InputError, match="target_output='probability'"):
        get_method("input-x-gradient", target_output="probability")
