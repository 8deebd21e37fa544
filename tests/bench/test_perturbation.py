"""The Perturber removes whole units: every position of a removed word."""

from __future__ import annotations

import numpy as np
import torch

from bench.perturbation import Perturber
from tests.tiny import tiny_bert


def test_a_removed_word_is_all_its_tokens():
    model = tiny_bert(pieces=True)
    encoded = model.encode("free prizes call the winners now", 1, granularity="word")
    units = encoded.units
    perturber = Perturber(model, encoded, "mask")
    winners = units.texts.index("winners")
    removed = np.zeros((1, units.n_units), dtype=bool)
    removed[0, winners] = True
    _, [ids] = perturber._variants(units.expand(removed))
    expected = encoded.input_ids.clone()
    expected[[6, 7, 8]] = model.baseline_token_id  # win ##ner ##s
    assert units.positions(winners).tolist() == [6, 7, 8]
    assert torch.equal(ids, expected)
    with torch.no_grad():
        direct = model.target_logprob(model.batch([encoded], input_ids=[expected]), [encoded])
    np.testing.assert_allclose(perturber.logprobs(removed), direct.double().numpy(), rtol=1e-6)
