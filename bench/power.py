"""Power of the paired Wilcoxon signed-rank test, to say how many examples a comparison the run
could not decide would need.

There is no closed form for the Wilcoxon test's power, so this follows G*Power's "A.R.E."
method (Faul et al. 2007, Behav. Res. Methods 39:175; after Lehmann 1975): the Wilcoxon test on
n pairs has about the power of the paired t-test on n * ARE pairs, with ARE = 3/pi, its asymptotic
relative efficiency against the t-test when the differences are normal. The t-test's power is
exact under normal differences: with effect size d_z = mean / sd of the differences and
nu = n * ARE, the statistic follows a noncentral t with nu - 1 degrees of freedom and
noncentrality d_z sqrt(nu) (scipy's `nct`). The effect is the observed one, so the answer is
"about this n if the effect is as large as it looked", not a guarantee.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import nct, t

ARE_WILCOXON = 3 / math.pi
POWER = 0.8
LARGEST_N = 10**9


def effect_size(differences: np.ndarray) -> float:
    """d_z: |mean| / sd (ddof 1) of paired differences; inf when they are all equal (or one) and
    not 0."""
    differences = np.asarray(differences, dtype=np.float64)
    mean = abs(float(differences.mean()))
    sd = float(differences.std(ddof=1)) if len(differences) > 1 else 0.0
    if sd == 0:
        return math.inf if mean > 0 else 0.0
    return mean / sd


def wilcoxon_power(effect: float, n: int, alpha: float) -> float:
    """Power of the two-sided paired Wilcoxon test on n pairs at level alpha (see the module)."""
    nu = n * ARE_WILCOXON
    if nu <= 1:
        return 0.0
    critical = t.ppf(1 - alpha / 2, nu - 1)
    noncentrality = effect * math.sqrt(nu)
    return float(nct.sf(critical, nu - 1, noncentrality) + nct.cdf(-critical, nu - 1, noncentrality))


def smallest_deciding_n(alpha: float) -> int:
    """The fewest pairs on which the exact two-sided Wilcoxon test can reach p < alpha at all: its
    smallest p, every difference of one sign, is 2 / 2**n."""
    return math.floor(1 - math.log2(alpha)) + 1


def pairs_needed(effect: float, alpha: float, power: float = POWER) -> float:
    """The smallest n with `wilcoxon_power` >= power (bisection: the power grows with n), and at
    least `smallest_deciding_n` (the normal approximation does not know that floor); inf for no
    effect or beyond LARGEST_N. Equal nonzero differences (d_z = inf) need that floor."""
    floor = smallest_deciding_n(alpha)
    if effect == 0:
        return math.inf
    if math.isinf(effect):
        return float(floor)
    if wilcoxon_power(effect, LARGEST_N, alpha) < power:
        return math.inf
    low, high = 1, 2  # wilcoxon_power(low) < power <= wilcoxon_power(high)
    while wilcoxon_power(effect, high, alpha) < power:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if wilcoxon_power(effect, middle, alpha) < power else (low, middle)
    return float(max(high, floor))
