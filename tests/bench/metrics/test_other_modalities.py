import numpy as np
import pytest
import torch

import bench
from bench.evaluate import score_explanation
from tests.tiny import tiny_image


def test_causal_lm_curve_uses_target_logprob(gpt2):
    encoded = gpt2.encode("free cash call now", " prize")
    scores = np.arange(encoded.n_positions, dtype=float)
    explanation = bench.Explanation(tokens=encoded.tokens, scores=scores, target=" prize")
    mask_id = gpt2.baseline_token_id
    order = [i for i in np.argsort(-scores, kind="stable") if not encoded.special[i]]
    expected = []
    for k in range(len(order) + 1):
        ids = encoded.input_ids.clone()
        ids[order[:k]] = mask_id
        with torch.no_grad():
            logprobs = gpt2.hf(input_ids=ids[None]).logits[0].double().log_softmax(-1)
        n = encoded.n_positions
        expected.append(sum(float(logprobs[n - 1 + j, t]) for j, t in enumerate(encoded.target_ids)))

    _, curves = score_explanation(explanation, gpt2, encoded, ["deletion"])

    np.testing.assert_allclose(curves["deletion"], expected, atol=1e-5)


@pytest.mark.parametrize("replacement", [None, "black", "zero", "mean"])
def test_image_deletion_replaces_whole_patches(vit, replacement):
    """None is the default, black: pixel value 0, which the tiny ViT normalises to -1."""
    encoded = vit.encode(tiny_image(), 0)
    scores = np.random.default_rng(0).normal(size=encoded.n_positions)
    explanation = bench.Explanation(tokens=encoded.tokens, scores=scores, target=0)
    pixels = encoded.pixel_values[0]
    fills = {
        None: torch.full_like(pixels, -1.0),
        "black": torch.full_like(pixels, -1.0),
        "zero": torch.zeros_like(pixels),
        "mean": pixels.mean((1, 2), keepdim=True).expand_as(pixels),
    }
    fill = fills[replacement]
    order = [int(i) for i in np.argsort(-scores, kind="stable") if not encoded.special[i]]
    expected = []
    for k in range(len(order) + 1):
        image = pixels.clone()
        for position in order[:k]:
            r, c = divmod(position - 1, 4)  # 16 px / 4 px patches, after [CLS]
            image[:, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4] = fill[:, 4 * r : 4 * r + 4, 4 * c : 4 * c + 4]
        with torch.no_grad():
            expected.append(float(vit.hf(pixel_values=image[None]).logits[0].double().softmax(-1)[0]))

    _, curves = score_explanation(explanation, vit, encoded, ["deletion"], replacement=replacement)

    np.testing.assert_allclose(curves["deletion"], expected, atol=1e-6)


def test_text_replacement_on_image_is_refused(vit):
    encoded = vit.encode(tiny_image(), 0)
    explanation = bench.Explanation(tokens=encoded.tokens, scores=np.zeros(encoded.n_positions), target=0)
    with pytest.raises(bench.errors.InputError, match="replacement 'mask'"):
        score_explanation(explanation, vit, encoded, ["deletion"], replacement="mask")
