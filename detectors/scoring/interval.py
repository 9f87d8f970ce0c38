"""Confidence intervals for rates measured on samples.

A hallucination rate is estimated from a sample of scored spans, often a small one, so it is
always reported with an interval. The Wilson score interval (Wilson 1927) is used because it
stays inside [0, 1], is sensible at 0 and n successes and keeps close to its nominal coverage
for small n, where the textbook Wald interval does not (Newcombe 1998, Brown, Cai & DasGupta 2001).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rate:
    """`flagged` of `sampled`, the point estimate and its Wilson interval."""

    flagged: int
    sampled: int
    rate: float
    ci_low: float
    ci_high: float


def wilson_interval(successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Two-sided Wilson score interval for `successes` out of `trials`; (0, 1) when nothing was tried."""
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    z = _z_score(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials)) / (1 + z2n)
    # At 0 or n successes the bound is exact in theory; clamp so float error never shows as 1e-17.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def rate_with_interval(flagged: int, sampled: int, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """The rate a user sees: never a bare ratio, always with the interval of its sample."""
    low, high = wilson_interval(flagged, sampled, confidence)
    return Rate(flagged, sampled, flagged / sampled if sampled else 0.0, low, high)


@lru_cache(maxsize=16)
def _z_score(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
