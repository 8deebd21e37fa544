"""Robustness: stability's perturbed copies and value by hand, sensitivities by Yeh et al.'s
formula on the same noise draws, and the axiom that an input-blind method is perfectly stable."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from bench.api import get_method
from bench.evaluate import score_explanation
from bench.metrics import _robustness
from tests.bench.metrics._hand import TEXT, explained


class Spy:
    """A method whose scores are a fixed function of its input, noting every input it explains."""

    def __init__(self, score):
        self.score, self.seen = score, []

    def unit_scores(self, model, encodeds):
        self.seen += encodeds
        return [self.score(e) for e in encodeds]


def test_an_input_blind_method_is_perfectly_stable(bert, vit):
    for model, inputs in ((bert, TEXT), (vit, np.full((32, 32, 3), 90, dtype=np.uint8))):
        encoded = model.encode(inputs, 0)
        method = get_method("random", seed=3)
        explanation = method.explain(model, encoded)
        metrics = ["stability"] + (
            ["avg_sensitivity", "max_sensitivity"] if model.modality == "image" else []
        )
        values, _ = score_explanation(explanation, model, encoded, metrics, method=method)
        assert values["stability"] == pytest.approx(1.0)
        assert values.get("avg_sensitivity", 0.0) == values.get("max_sensitivity", 0.0) == 0.0


def test_text_copies_mask_a_tenth_of_the_lower_half_and_stability_is_their_mean_rho(bert):
    encoded, explanation = explained(bert)  # scores: a seeded permutation
    spy = Spy(lambda e: e.input_ids.numpy().astype(float) * np.arange(e.n_positions))
    value = score_explanation(explanation, bert, encoded, ["stability"], method=spy)[0]["stability"]
    words = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    lower_half = sorted(words, key=lambda i: explanation.scores[i])[: len(words) // 2]
    mask_id = bert.tokenizer.mask_token_id
    rhos = []
    assert len(spy.seen) == _robustness.TEXT_COPIES
    for copy in spy.seen:
        replaced = [i for i in range(encoded.n_positions) if copy.input_ids[i] != encoded.input_ids[i]]
        assert len(replaced) == math.ceil(0.1 * len(words)) and set(replaced) <= set(lower_half)
        assert all(copy.input_ids[i] == mask_id for i in replaced)
        kept = [i for i in words if i not in replaced]
        rhos.append(spearmanr(explanation.scores[kept], spy.score(copy)[kept]).statistic)
    assert value == pytest.approx(np.mean(rhos))


def test_sensitivities_follow_yeh_et_al_on_the_same_noise(vit):
    image = np.random.default_rng(5).integers(0, 255, (32, 32, 3)).astype(np.uint8)
    encoded = vit.encode(image, 0)
    rows, cols = encoded.patch_grid

    def patch_means(e):
        pixels = e.pixel_values.double().numpy() if hasattr(e, "pixel_values") else e
        _, channels, height, width = pixels.shape
        cells = pixels.reshape(channels, rows, height // rows, cols, width // cols).mean((0, 2, 4))
        return np.r_[0.0, cells.ravel()]

    assert len(patch_means(encoded)) == encoded.n_positions
    spy = Spy(patch_means)
    explanation = explained(vit, patch_means(encoded), target=0, text=image)[1]
    values = score_explanation(explanation, vit, encoded, ["avg_sensitivity", "max_sensitivity"], method=spy)[
        0
    ]
    rng = np.random.default_rng(_robustness.SEED)
    a = patch_means(encoded)
    ratios = []
    for _ in range(_robustness.NOISE_COPIES):
        noisy = encoded.pixel_values.double().numpy() + rng.uniform(
            -0.2, 0.2, size=encoded.pixel_values.shape
        )
        b = patch_means(noisy)
        ratios.append(np.linalg.norm(a - b) / np.linalg.norm(a))
    assert values["avg_sensitivity"] == pytest.approx(np.mean(ratios), rel=1e-5)
    assert values["max_sensitivity"] == pytest.approx(np.max(ratios), rel=1e-5)
