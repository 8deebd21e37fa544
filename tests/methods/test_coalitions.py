"""The coalition value every sampling method reads: each distinct coalition runs once."""

import numpy as np

from methods._coalitions import Coalitions
from tests.tiny import tiny_bert


def test_repeated_coalitions_run_once_and_get_the_same_values():
    model = tiny_bert()
    encoded = model.encode("free cash prize call now to claim", 1)
    coalitions = Coalitions(model, encoded, "mask", "black")
    rng = np.random.default_rng(0)
    distinct = rng.random((5, coalitions.n_features)) < 0.5
    draws = distinct[rng.integers(0, 5, 40)]
    before = model.passes.forward
    values = coalitions.logprob(draws)
    again = coalitions.logprob(distinct[::-1])
    assert model.passes.forward - before == len(np.unique(draws, axis=0))  # one row per distinct one
    fresh = Coalitions(model, encoded, "mask", "black").perturber
    for row, value in zip(draws, values, strict=True):  # each value is its own row's, run alone
        removed = np.zeros((1, encoded.n_positions), dtype=bool)
        removed[0, coalitions.features] = ~row
        assert np.isclose(value, fresh.logprobs(removed)[0], atol=1e-6)
    np.testing.assert_array_equal(again, coalitions.logprob(distinct)[::-1])
