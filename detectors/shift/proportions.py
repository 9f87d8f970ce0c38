"""Two rates from counts (errors of requests, hallucinations of scored calls): a test and effect sizes.

The drift detector's flag test (`compare.compare_flag`) takes one boolean a call; cohorts of live
traffic hold millions of calls whose counts come from an aggregate, so this works on the counts.
Fisher's exact test where a cell is expected to hold few calls (rare errors, small cohorts), where
the normal approximation misleads; the pooled two-proportion z-test otherwise, where it is exact
enough and Fisher's cost grows with the counts. No SciPy (`ranks`): the comparison runs in the UI
process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from detectors.shift.ranks import fisher_exact_p, normal_sf

MIN_EXPECTED = 5  # the usual rule: below it in any cell, the z-test's normal approximation is off


@dataclass(frozen=True)
class RateTest:
    """`difference` and `ratio` are b against a (b - a, b / a); `cohens_h` is the arcsine difference."""

    test: str
    p_value: float
    rate_a: float
    rate_b: float
    difference: float
    ratio: float | None  # None when a's rate is 0
    cohens_h: float


def compare_rates(hits_a: int, n_a: int, hits_b: int, n_b: int) -> RateTest:
    """Two-sided test that cohort b's rate differs from a's; both counts must be positive."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError(f"both cohorts need calls to compare rates, got {n_a} and {n_b}")
    rate_a, rate_b = hits_a / n_a, hits_b / n_b
    if _few_expected(hits_a, n_a, hits_b, n_b):
        test, p_value = "fisher exact", fisher_exact_p([[hits_a, n_a - hits_a], [hits_b, n_b - hits_b]])
    else:
        test, p_value = "two-proportion z", _z_test(hits_a, n_a, hits_b, n_b)
    h = 2 * math.asin(math.sqrt(rate_b)) - 2 * math.asin(math.sqrt(rate_a))
    ratio = rate_b / rate_a if rate_a else None
    return RateTest(test, p_value, rate_a, rate_b, rate_b - rate_a, ratio, h)


def _few_expected(hits_a: int, n_a: int, hits_b: int, n_b: int) -> bool:
    pooled, total = (hits_a + hits_b) / (n_a + n_b), n_a + n_b
    expected = (n_a * pooled, n_a * (1 - pooled), n_b * pooled, n_b * (1 - pooled))
    return total == 0 or min(expected) < MIN_EXPECTED


def _z_test(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    pooled = (hits_a + hits_b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if spread == 0:  # both rates 0 or both 1: nothing differs
        return 1.0
    z = (hits_b / n_b - hits_a / n_a) / spread
    return 2 * normal_sf(abs(z))
