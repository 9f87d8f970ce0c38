"""Quantiles estimated from histogram buckets, as Prometheus' `histogram_quantile` does.

Observations are taken as spread evenly inside their bucket, so an estimate is exact to within
its bucket's width and no finer. A histogram's smallest and largest observation (OTLP's `min` and
`max`, which the SDKs send by default) narrow its buckets: the overflow bucket ends at the largest,
and one coarse bucket holding every call (OpenLLMetry's first duration bucket is 0-5 s) shrinks
to what was observed. Without them the first bucket runs from 0 (from its bound when that is below
0) and what falls in the overflow bucket reads as the last bound (a lower limit of the truth).
Histograms with different bounds (two libraries, or two versions of one) are merged by adding
their piecewise-linear distribution functions, so the estimate of one histogram alone is the
usual linear interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple

Interval = tuple[float, float, float]  # low, high, count


class Buckets(NamedTuple):
    """Explicit bounds, bucket counts (bounds + 1), and the observed extremes when known."""

    bounds: Sequence[float]
    counts: Sequence[int]
    low: float | None = None
    high: float | None = None


def bucket_intervals(histograms: Iterable[Buckets]) -> list[Interval]:
    """Every non-empty bucket of every histogram as (low, high, count)."""
    out: list[Interval] = []
    for bounds, counts, low, high in histograms:
        if not bounds or len(counts) != len(bounds) + 1:
            continue
        edges = [-math.inf, *bounds, math.inf]
        out.extend((*_narrowed(edges[i], edges[i + 1], bounds, low, high), float(c))
                   for i, c in enumerate(counts) if c > 0)
    return out


def _narrowed(lower: float, upper: float, bounds: Sequence[float], low: float | None,
              high: float | None) -> tuple[float, float]:
    """A bucket's edges within the observed extremes; open ends closed as the module says."""
    start = max(lower, low) if low is not None else lower
    end = min(upper, high) if high is not None else upper
    if start > end:  # extremes that contradict the counts: trust the bounds
        start, end = lower, upper
    if math.isinf(start):
        start = min(0.0, bounds[0], end)
    if math.isinf(end):
        end = max(bounds[-1], start)
    return start, end


def estimate_quantiles(histograms: Iterable[Buckets], quantiles: Sequence[float]) -> dict[float, float | None]:
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
    """Counts of zero-width buckets (a bucket narrowed to one value, the overflow bucket) at x."""
    return sum(count for low, high, count in intervals if low == high == x)
