"""Occlusion equals an explicit leave-one-out loop, one forward pass per replaced position."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import bench
from bench.api import get_method
from bench.errors import InputError
from tests.tiny import tiny_bert, tiny_cnn, tiny_gpt2, tiny_image, tiny_vit

TEXT = "free cash prize call now"


def logprob(model, encoded, ids=None, pixels=None) -> float:
    if pixels is not None:
        encoded = replace(encoded, pixel_values=pixels)
    with torch.no_grad():
        inputs = model.batch([encoded], input_ids=None if ids is None else [ids])
        return float(model.target_logprob(inputs, [encoded])[0])


def text_loop(model, encoded, token_id: int) -> np.ndarray:
    full = logprob(model, encoded)
    drops = np.zeros(encoded.n_positions)
    for i in range(encoded.n_positions):
        if not encoded.special[i]:
            ids = encoded.input_ids.clone()
            ids[i] = token_id
            drops[i] = full - logprob(model, encoded, ids)
    return drops


def patch_loop(model, encoded, fill: str) -> np.ndarray:
    pixels = encoded.pixel_values
    rows, cols = encoded.patch_grid
    height, width = pixels.shape[-2] // rows, pixels.shape[-1] // cols
    full = logprob(model, encoded)
    drops = [0.0] * (encoded.n_positions - rows * cols)  # [CLS] of a ViT
    for r in range(rows):
        for c in range(cols):
            occluded = pixels.clone()
            patch = occluded[..., r * height : (r + 1) * height, c * width : (c + 1) * width]
            # black: pixel value 0, which both tiny image models normalise to -1
            patch[:] = {"zero": 0, "black": -1}.get(fill, pixels.mean(dim=(-2, -1), keepdim=True))
            drops.append(full - logprob(model, encoded, pixels=occluded))
    return np.array(drops)


@pytest.mark.parametrize("name, target", [("bert", 1), ("gpt2", " claim"), ("llama", " claim")])
@pytest.mark.parametrize("baseline", ["mask", "unk"])
def test_text_occlusion_equals_an_explicit_loop(name, target, baseline, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(TEXT, target)
    token_id = getattr(model.tokenizer, f"{baseline}_token_id")
    expected = text_loop(model, encoded, token_id)
    assert np.abs(expected).max() > 0.01

    explanation = bench.explain("occlusion", model, TEXT, target, baseline=baseline, perturbations_per_eval=4)
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-5)
    assert np.all(explanation.scores[encoded.special] == 0)
    removable = int((~encoded.special).sum())
    assert (explanation.cost.forward_passes, explanation.cost.backward_passes) == (1 + removable, 0)


@pytest.mark.parametrize("name, target", [("vit", 2), ("cnn", 0)])
@pytest.mark.parametrize("fill", ["black", "zero", "mean"])
def test_patch_occlusion_equals_an_explicit_loop(name, target, fill, request):
    model = tiny_cnn() if name == "cnn" else request.getfixturevalue(name)
    encoded = model.encode(tiny_image(), target)
    expected = patch_loop(model, encoded, fill)
    assert np.abs(expected).max() > 1e-3

    explanation = bench.explain("occlusion", model, tiny_image(), target, image_baseline=fill)
    assert explanation.patch_grid == encoded.patch_grid and len(explanation.scores) == encoded.n_positions
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-6)
    rows, cols = encoded.patch_grid
    assert explanation.cost.forward_passes == 1 + rows * cols


def test_images_are_occluded_to_black_by_default(vit):
    encoded = vit.encode(tiny_image(), 2)
    default = bench.explain("occlusion", vit, tiny_image(), 2)
    np.testing.assert_allclose(default.scores, patch_loop(vit, encoded, "black"), rtol=1e-5, atol=1e-6)


def test_black_goes_through_the_models_own_normalisation():
    """ImageNet normalisation: black is -mean/std per channel, not the normalised zero (grey)."""
    from transformers import ViTImageProcessorPil

    vit = tiny_vit()
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    vit.processor = ViTImageProcessorPil(size={"height": 16, "width": 16}, image_mean=mean, image_std=std)
    pixels = vit.encode(tiny_image(), 2).pixel_values
    black = vit.black_fill(pixels)
    expected = -torch.tensor(mean) / torch.tensor(std)
    assert black.shape == pixels.shape
    np.testing.assert_allclose(black[0, :, 3, 5].numpy(), expected.numpy(), rtol=1e-5)


def test_batching_perturbations_changes_no_score(bert):
    one = bench.explain("occlusion", bert, TEXT, 1, perturbations_per_eval=1)
    many = bench.explain("occlusion", bert, TEXT, 1, perturbations_per_eval=16)
    np.testing.assert_allclose(one.scores, many.scores, rtol=1e-5, atol=1e-6)


def test_only_special_tokens_leave_nothing_to_occlude(bert):
    with pytest.raises(InputError, match="empty after tokenisation"):
        bench.explain("occlusion", bert, "[MASK]", 0)  # a text of special tokens only is refused
    encoded = bert.encode("free", 0)
    encoded.special = np.ones(encoded.n_positions, dtype=bool)  # built by hand: nothing removable
    explanation = get_method("occlusion").explain(bert, encoded)
    assert np.all(explanation.scores == 0) and explanation.cost.forward_passes == 0


def test_bad_baselines_are_refused_by_name():
    with pytest.raises(InputError, match="baseline='blank'"):
        get_method("occlusion", baseline="blank")
    with pytest.raises(InputError, match="image_baseline='blur'"):
        get_method("occlusion", image_baseline="blur")


@pytest.mark.parametrize("name", ["gpt2", "llama"])
@pytest.mark.parametrize("per_eval", [1, 3, 16])
def test_prefix_reuse_gives_the_naive_drops_on_causal_lms(name, per_eval, request):
    """Replacing token i leaves positions before i unchanged: running each variant from i on
    over the input's KV cache gives captum's full-pass drops (in chunks of any size)."""
    model = request.getfixturevalue(name)
    encoded = model.encode("free cash call now hello how are you the prize free cash call", " claim it now")
    reused = get_method("occlusion", perturbations_per_eval=per_eval).explain(model, encoded)
    naive = get_method("occlusion", prefix_reuse=False).explain(model, encoded)
    np.testing.assert_allclose(reused.scores, naive.scores, atol=1e-5)
    assert np.count_nonzero(reused.scores) >= encoded.n_positions - 2


@pytest.mark.parametrize("kind", ["classifier", "causal-lm"])
@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_word_occlusion_replaces_all_of_a_words_tokens_at_once(kind, prefix_reuse):
    model = tiny_bert(pieces=True) if kind == "classifier" else tiny_gpt2(pieces=True)
    text, target = "free prizes call the winners now", 1 if kind == "classifier" else " claim"
    encoded = model.encode(text, target, granularity="word")
    units, mask_id = encoded.units, model.baseline_token_id
    full = logprob(model, encoded)
    expected = np.zeros(units.n_units)
    for u in units.removable:  # an explicit loop: one forward per word, all its tokens replaced
        ids = encoded.input_ids.clone()
        ids[units.positions(u)] = mask_id
        expected[u] = full - logprob(model, encoded, ids)
    assert units.n_units < encoded.n_positions and np.abs(expected).max() > 0.01
    explanation = bench.explain(
        "occlusion",
        model,
        text,
        target,
        granularity="word",
        perturbations_per_eval=3,
        prefix_reuse=prefix_reuse,
    )
    assert explanation.tokens == units.texts
    np.testing.assert_allclose(explanation.scores, expected, rtol=1e-5, atol=1e-5)
    if kind == "classifier":  # one pass for the input, one per word
        assert explanation.cost.forward_passes == 1 + len(units.removable)
