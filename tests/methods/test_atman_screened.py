"""atman-screened: exact AtMan (the explicit loop of test_atman) at the positions atman-grad
screens, atman-grad's order below them."""

from __future__ import annotations

import math

import numpy as np
import pytest

import bench
from bench.api import get_method
from methods.atman_screened import merged
from tests.methods.test_atman import reference_scores

TEXT = "free cash prize call now to claim your reward text stop"


def target_of(model: bench.Model):
    return 1 if model.kind == "classifier" else " now claim"


@pytest.mark.parametrize("name", ["bert", "llama"])
@pytest.mark.parametrize("screen_by", ["magnitude", "value"])
def test_screened_positions_hold_the_explicit_loops_scores(name, screen_by, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(TEXT, target_of(model))
    method = get_method("atman-screened", screen_by=screen_by)
    scores = method.explain(model, encoded).scores
    estimate = bench.explain("atman-grad", model, TEXT, target=target_of(model)).scores
    candidates = np.flatnonzero(~encoded.special)
    key = np.abs(estimate) if screen_by == "magnitude" else estimate
    count = math.ceil(0.25 * len(candidates))
    screened = np.sort(candidates[np.argsort(-key[candidates])[:count]])
    exact = reference_scores(model, TEXT, target_of(model))
    np.testing.assert_allclose(scores[screened], exact[screened], atol=1e-5)
    rest = np.setdiff1d(candidates, screened)
    # below the screened positions, atman-grad's order
    assert list(rest[np.argsort(-scores[rest], kind="stable")]) == list(
        rest[np.argsort(-estimate[rest], kind="stable")]
    )
    if screen_by == "value":
        assert scores[rest].max() < scores[screened].min()
    else:
        positive, negative = screened[exact[screened] > 0], screened[exact[screened] <= 0]
        assert all(scores[rest].max() < scores[p] for p in positive)
        assert all(scores[rest].min() > scores[n] for n in negative)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_screening_everything_is_exact_atman(name, request):
    model = request.getfixturevalue(name)
    encoded = model.encode(TEXT, target_of(model))
    scores = get_method("atman-screened", screen_fraction=1.0).explain(model, encoded).scores
    exact = bench.explain("atman", model, TEXT, target=target_of(model)).scores
    np.testing.assert_allclose(scores[~encoded.special], exact[~encoded.special], atol=1e-6)


def test_merge_keeps_the_estimates_when_they_already_fit_and_maps_them_in_order_otherwise():
    estimate = np.array([0.5, 0.1, -0.2, 0.05, 0.9])
    screened = np.array([0, 4])
    fits = merged(estimate, screened, np.array([0.6, -0.3]), above_all=False)
    np.testing.assert_array_equal(fits, [0.6, 0.1, -0.2, 0.05, -0.3])
    squeezed = merged(estimate, screened, np.array([0.08, -0.01]), above_all=False)
    assert -0.01 < squeezed[[1, 2, 3]].min() and squeezed[[1, 2, 3]].max() < 0.08
    assert list(np.argsort(squeezed[[1, 2, 3]])) == list(np.argsort(estimate[[1, 2, 3]]))
    below = merged(estimate, screened, np.array([0.08, 0.02]), above_all=True)
    assert below[[1, 2, 3]].max() < 0.02 and np.allclose(
        np.diff(below[[1, 2, 3]]), np.diff(estimate[[1, 2, 3]])
    )


def test_screening_every_word_is_exact_word_atman():
    from tests.tiny import tiny_bert

    model, text = tiny_bert(pieces=True), "free prizes call the winners now"
    encoded = model.encode(text, 1, granularity="word")
    screened = get_method("atman-screened", screen_fraction=1.0).explain(model, encoded)
    exact = bench.explain("atman", model, text, target=1, granularity="word")
    assert screened.tokens == exact.tokens == encoded.units.texts
    removable = encoded.units.removable
    np.testing.assert_allclose(screened.scores[removable], exact.scores[removable], atol=1e-6)
