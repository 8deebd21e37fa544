"""The Wilcoxon power estimate: the noncentral t checked against an independent integral, the n
search at its boundary, the exact test's floor, and a Monte-Carlo run of the real test."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import chi2, norm, t, wilcoxon

from bench.power import ARE_WILCOXON, POWER, effect_size, pairs_needed, smallest_deciding_n, wilcoxon_power


def t_test_power_by_integral(effect: float, nu: float, alpha: float) -> float:
    """P(|Z + d sqrt(nu)| > c sqrt(V / (nu - 1))), V ~ chi2(nu - 1): the paired t-test's power
    written from its definition, integrated over V (no noncentral t)."""
    df = nu - 1
    critical = t.ppf(1 - alpha / 2, df)
    shift = effect * math.sqrt(nu)

    def rejected(v: float) -> float:
        bound = critical * math.sqrt(v / df)
        return (norm.sf(bound - shift) + norm.cdf(-bound - shift)) * chi2.pdf(v, df)

    return quad(rejected, chi2.ppf(1e-12, df), chi2.isf(1e-12, df), limit=200)[0]


@pytest.mark.parametrize(("effect", "n", "alpha"), [(0.5, 20, 0.05), (0.3, 90, 0.05 / 6), (1.2, 8, 0.01)])
def test_power_is_the_t_tests_on_n_times_the_efficiency(effect, n, alpha):
    expected = t_test_power_by_integral(effect, n * ARE_WILCOXON, alpha)
    assert wilcoxon_power(effect, n, alpha) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("effect", "alpha"), [(0.5, 0.05), (0.25, 0.05 / 10), (0.9, 0.05 / 3)])
def test_the_n_found_is_the_first_with_power_at_least_0_8(effect, alpha):
    n = int(pairs_needed(effect, alpha))
    assert t_test_power_by_integral(effect, n * ARE_WILCOXON, alpha) >= POWER
    assert t_test_power_by_integral(effect, (n - 1) * ARE_WILCOXON, alpha) < POWER


def test_monte_carlo_wilcoxon_reaches_about_0_8_at_the_n_found():
    n = int(pairs_needed(0.5, 0.05))
    assert n == 35  # nu = 35 * 3 / pi = 33.4 t-test pairs (the t-test itself needs 34 at d_z = 0.5)
    differences = np.random.default_rng(0).normal(0.5, 1.0, size=(4000, n))
    rejected = np.mean(wilcoxon(differences, axis=1).pvalue < 0.05)
    assert rejected == pytest.approx(0.8, abs=0.03)


def test_no_n_below_the_exact_tests_floor_can_decide():
    assert smallest_deciding_n(0.05) == 6
    assert wilcoxon(np.full(6, 0.3)).pvalue < 0.05 <= wilcoxon(np.full(5, 0.3)).pvalue
    assert pairs_needed(math.inf, 0.05) == 6
    assert pairs_needed(50.0, 0.05 / 105) == smallest_deciding_n(0.05 / 105) == 13  # 2 / 2**13 < 4.8e-4
    assert pairs_needed(0.0, 0.05) == math.inf
    assert pairs_needed(1e-6, 0.05) == math.inf  # beyond LARGEST_N


def test_effect_size_by_hand():
    assert effect_size(np.array([1.0, 2.0, 3.0])) == pytest.approx(2.0 / 1.0)
    assert effect_size(np.array([-1.0, -2.0, -3.0])) == pytest.approx(2.0)
    assert effect_size(np.array([0.4, 0.4])) == math.inf
    assert effect_size(np.array([0.4])) == math.inf
