import itertools

import numpy as np
import pytest

import bench
from bench.evaluate import score_explanation
from tests.bench.metrics._hand import explained, prob_without


def kendall_tau_without_ties(a, b) -> float:
    pairs = list(itertools.combinations(range(len(a)), 2))
    signs = [(a[i] - a[j]) * (b[i] - b[j]) for i, j in pairs]
    return (sum(s > 0 for s in signs) - sum(s < 0 for s in signs)) / len(pairs)


def deletion_drops(model, encoded) -> list[float]:
    """y(full) - y(token i deleted) for every non-special position: ferret's taucorr_loo reference."""
    positions = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    full = prob_without(model, encoded, [])
    return [full - prob_without(model, encoded, [i]) for i in positions]


def test_loo_tau_is_kendall_tau_against_leave_one_out_deletion(bert):
    encoded, explanation = explained(bert)
    positions = [i for i in range(encoded.n_positions) if not encoded.special[i]]
    values, _ = score_explanation(explanation, bert, encoded, ["loo_tau"])
    expected = kendall_tau_without_ties(
        [explanation.scores[i] for i in positions], deletion_drops(bert, encoded)
    )
    assert values["loo_tau"] == pytest.approx(expected)


def test_occlusion_is_not_its_own_reference(bert):
    """Occlusion replaces by the mask token; the reference deletes, so occlusion earns no free 1."""
    encoded, explanation = explained(bert)
    explanation.scores[~encoded.special] = deletion_drops(bert, encoded)
    assert score_explanation(explanation, bert, encoded, ["loo_tau"])[0]["loo_tau"] == pytest.approx(1.0)
    occlusion = bench.explain("occlusion", bert, encoded.text, target=encoded.target)
    tau = score_explanation(occlusion, bert, encoded, ["loo_tau"])[0]["loo_tau"]
    assert tau < 0.99 and np.isfinite(tau)


def test_no_registered_method_removes_the_way_the_reference_does():
    """loo_tau would be tautological (tau = 1 by construction) for a method that scores each
    position by removing it exactly as the leave-one-out reference does; no option allows it."""
    from bench.metrics.loo_tau import REFERENCE_REMOVAL
    from bench.registry import METHODS

    for name, method in METHODS.items():
        offered = {value for values in method.choices.values() for value in values}
        assert not offered & set(REFERENCE_REMOVAL.values()), name
