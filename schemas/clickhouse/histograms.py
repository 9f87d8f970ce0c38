"""Latency and TTFT histograms kept in the rollups, so Prometheus can compute quantiles from them.

A t-digest state answers the quantiles of one window, but Prometheus needs counters it can add
across scrapes and instances and hand to `histogram_quantile(rate(…))`. So each rollup row also
holds how many of its calls took at most each bound (cumulative, like Prometheus's `le` buckets;
the last element is every call, the +Inf bucket) and the sum of their times (migration 0014).

The bounds are part of the stored data: a row's counts mean these bounds, so they never change
once shipped (another set needs new columns, like any migration). One set serves latency and
TTFT: LLM calls run from ~50 ms (embeddings, cache hits) to minutes (long generations, agents).
"""

from __future__ import annotations

BOUNDS_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)
LATENCY, TTFT = "latency", "ttft"  # the two histograms; columns `<name>_le` and `<name>_sum_ms`
_TTFT_KNOWN = "c.ttft_ms IS NOT NULL"


def _cumulative_counts(value: str, known: str) -> str:
    """`[calls with value <= each bound …, calls]` over calls `c` where `known` holds."""
    counts = [f"countIf({known} AND {value} <= {bound * 1000:g})" for bound in BOUNDS_SECONDS]
    return "[" + ", ".join([*counts, f"countIf({known})"]) + "]"


# Aggregates over calls `c` that make one rollup row's histogram columns.
HISTOGRAM_STATES = {
    "latency_le": _cumulative_counts("c.duration_ms", "1"),
    "latency_sum_ms": "sum(c.duration_ms)",
    "ttft_le": _cumulative_counts("assumeNotNull(c.ttft_ms)", _TTFT_KNOWN),
    "ttft_sum_ms": f"sumIf(assumeNotNull(c.ttft_ms), {_TTFT_KNOWN})",
}
# An hour's histogram from its minute rows `m` (rows from before migration 0014 hold [] and add nothing).
HOUR_HISTOGRAMS = {
    "latency_le": "sumForEach(m.latency_le)", "latency_sum_ms": "sum(m.latency_sum_ms)",
    "ttft_le": "sumForEach(m.ttft_le)", "ttft_sum_ms": "sum(m.ttft_sum_ms)",
}
# A zeroed row's histogram columns (a row whose calls moved to another minute or group).
EMPTY_HISTOGRAMS = {"latency_le": "emptyArrayUInt64()", "ttft_le": "emptyArrayUInt64()"}
