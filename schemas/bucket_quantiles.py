"""Quantiles estimated from histogram buckets, as Prometheus' `histogram_quantile` does.

Observations are taken as spread evenly inside their bucket, so an estimate is exact to within
its bucket's width and no finer. Histograms with different bounds (two libraries, or two
versions of one) are merged by adding their piecewise-linear distribution functions, so the
estimate of one histogram alone is the usual linear interpolation. The first bucket runs from 0
(from its bound when that is below 0); the overflow bucket has no upper end, so what falls in
it reads as the last bound (a lower limit of the truth).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import pairwise

Histogram = tuple[Sequence[float], Sequence[int]]  # explicit bounds, bucket counts (bounds + 1)
Interval = tuple[float, float, float]  # low, high, count


def bucket_intervals(histograms: Iterable[Histogram]) -> list[Interval]:
    """Every non-empty bucket of every histogram as (low, high, count)."""
    out: list[Interval] = []
    for bounds, counts in histograms:
        if not bounds or len(counts) != len(bounds) + 1:
            continue
        edges = [min(0.0, bounds[0]), *bounds, bounds[-1]]
        out.extend((edges[i], edges[i + 1], float(c)) for i, c in enumerate(counts) if c > 0)
    return out


def estimate_quantiles(histograms: Iterable[Histogram], quantiles: Sequence[float]) -> dict[float, float | None]:
    """The value below which each fraction `q` of the observations lies; None without observations."""
    intervals = bucket_intervals(histograms)
    total = sum(count for _, _, count in intervals)
    if not total:
        return dict.fromkeys(quantiles)
    points = sorted({edge for low, high, _ in intervals for edge in (low, high)})
    return {q: _invert(intervals, points, q * total) for q in quantiles}


def _invert(intervals: list[Interval], points: list[float], target: float) -> float:
    """The least x with F(x) >= target; F is linear between consecutive points, jumping at point masses."""
    before = _cdf(intervals, points[0])
    if before >= target:
        return points[0]
    for previous, point in pairwise(points):
        at = _cdf(intervals, point)
        left = at - _mass_at(intervals, point)
        if target <= left:
            return previous + (target - before) / (left - before) * (point - previous)
        if target <= at:
            return point
        before = at
    return points[-1]


def _cdf(intervals: list[Interval], x: float) -> float:
    total = 0.0
    for low, high, count in intervals:
        if x >= high:
            total += count
        elif x > low:
            total += count * (x - low) / (high - low)
    return total


def _mass_at(intervals: list[Interval], x: float) -> float:
    """Counts of zero-width buckets (the overflow bucket, or a first bound of 0) that sit at x."""
    return sum(count for low, high, count in intervals if low == high == x)
