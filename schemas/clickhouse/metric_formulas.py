"""The metric formulas, as data: what a rollup row stores of the calls of its minute (`STATE_COLUMNS`),
how an hour's row is made of its minutes' (`HOUR_FROM_MINUTES`), and what each metric is of state
rows (`METRICS`). `schemas.clickhouse.metrics` writes and reads the rollups with them.
"""

from __future__ import annotations

_ZERO = "toDecimal128(0, 12)"
# Money a prompt-cache read saved: the read tokens at the call's own uncached input rate, minus what they cost.
_CACHE_SAVING = (
    f"if(c.cost_input IS NOT NULL AND c.input_tokens > c.cache_read_tokens + c.cache_write_tokens, "
    f"assumeNotNull(c.cost_input) * c.cache_read_tokens "
    f"/ (c.input_tokens - c.cache_read_tokens - c.cache_write_tokens) - ifNull(c.cost_cache_read, {_ZERO}), {_ZERO})"
)
_PRICED_UNCACHED = "NOT c.cache_hit AND c.cost_total IS NOT NULL"
# Aggregates over calls `c` that produce one state row; the rollup table stores exactly these.
STATE_COLUMNS = {
    "requests": "count()",
    "errors": "countIf(c.status_code = 'error')",
    "cache_hits": "countIf(c.cache_hit)",
    "input_tokens": "sum(c.input_tokens)",
    "output_tokens": "sum(c.output_tokens)",
    "cache_read_tokens": "sum(c.cache_read_tokens)",
    "cache_write_tokens": "sum(c.cache_write_tokens)",
    "cost_total": f"sum(ifNull(c.cost_total, {_ZERO}))",
    "unpriced": "countIf(c.cost_total IS NULL)",
    "cache_read_savings": f"sum({_CACHE_SAVING})",
    "priced_uncached_cost": f"sumIf(ifNull(c.cost_total, {_ZERO}), {_PRICED_UNCACHED})",
    "priced_uncached_requests": f"countIf({_PRICED_UNCACHED})",
    "traces": "uniqState(c.trace_id)",
    "users": "uniqStateIf(c.user_id, c.user_id != '')",
    "latency": "quantilesTDigestState(0.5, 0.95, 0.99)(c.duration_ms)",
    "ttft": "quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(c.ttft_ms), c.ttft_ms IS NOT NULL)",
    "ttft_count": "countIf(c.ttft_ms IS NOT NULL)",
    # The per-call failure signals (migration 0013, collector/signals.py).
    "json_requests": "countIf(c.json_requested)",
    "parse_failures": "countIf(c.parse_failure)",
    "refusals": "countIf(c.refusal)",
    "truncations": "countIf(c.truncated)",
    "tool_errors": "countIf(c.tool_error)",
}
# How an hour's row is made from its minute rows: counts and money add, states merge into a state.
HOUR_FROM_MINUTES = {
    **{name: f"sum(m.{name})" for name in STATE_COLUMNS},
    "traces": "uniqMergeState(m.traces)",
    "users": "uniqMergeState(m.users)",
    "latency": "quantilesTDigestMergeState(0.5, 0.95, 0.99)(m.latency)",
    "ttft": "quantilesTDigestMergeState(0.5, 0.95, 0.99)(m.ttft)",
}

_LATENCY = "quantilesTDigestMerge(0.5, 0.95, 0.99)(r.latency)"
_TTFT = "if(sum(r.ttft_count) > 0, quantilesTDigestMerge(0.5, 0.95, 0.99)(r.ttft)[{i}], NULL)"
_APP_CACHE_SAVING = "sum(r.cache_hits) * sum(r.priced_uncached_cost) / nullIf(sum(r.priced_uncached_requests), 0)"
# Metric name → expression over state rows `r`; rates are fractions, money is USD, times ms.
METRICS = {
    "requests": "sum(r.requests)",
    "errors": "sum(r.errors)",
    "error_rate": "sum(r.errors) / nullIf(sum(r.requests), 0)",
    "latency_p50_ms": f"{_LATENCY}[1]",
    "latency_p95_ms": f"{_LATENCY}[2]",
    "latency_p99_ms": f"{_LATENCY}[3]",
    "ttft_p50_ms": _TTFT.format(i=1),
    "ttft_p95_ms": _TTFT.format(i=2),
    "ttft_p99_ms": _TTFT.format(i=3),
    "input_tokens": "sum(r.input_tokens)",
    "output_tokens": "sum(r.output_tokens)",
    "cached_tokens": "sum(r.cache_read_tokens)",
    "cache_write_tokens": "sum(r.cache_write_tokens)",
    "cost_total": "sum(r.cost_total)",
    "unpriced_requests": "sum(r.unpriced)",
    "cost_per_request": "sum(r.cost_total) / nullIf(sum(r.requests), 0)",
    "cost_per_trace": "sum(r.cost_total) / nullIf(uniqMerge(r.traces), 0)",
    "cost_per_user": "sum(r.cost_total) / nullIf(uniqMerge(r.users), 0)",
    "cache_hit_rate": "sum(r.cache_hits) / nullIf(sum(r.requests), 0)",
    "prompt_cache_share": "sum(r.cache_read_tokens) / nullIf(sum(r.input_tokens), 0)",
    "prompt_cache_savings": "sum(r.cache_read_savings)",
    "app_cache_savings": f"ifNull({_APP_CACHE_SAVING}, {_ZERO})",
    "cache_savings": f"sum(r.cache_read_savings) + ifNull({_APP_CACHE_SAVING}, {_ZERO})",
    # A parse failure is counted against the calls that asked for structured output; the other
    # signals against every call.
    "json_requests": "sum(r.json_requests)",
    "parse_failures": "sum(r.parse_failures)",
    "parse_failure_rate": "sum(r.parse_failures) / nullIf(sum(r.json_requests), 0)",
    "refusals": "sum(r.refusals)",
    "refusal_rate": "sum(r.refusals) / nullIf(sum(r.requests), 0)",
    "truncations": "sum(r.truncations)",
    "truncation_rate": "sum(r.truncations) / nullIf(sum(r.requests), 0)",
    "tool_errors": "sum(r.tool_errors)",
    "tool_error_rate": "sum(r.tool_errors) / nullIf(sum(r.requests), 0)",
}
