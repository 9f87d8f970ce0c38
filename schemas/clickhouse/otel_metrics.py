"""Reads of the apps' OTLP metric points (migration 0018): token and latency trends from metrics.

An app that samples its traces still exports its GenAI metrics whole; these figures come from
them. Points are stored as sent, so cumulative series are turned into deltas here, in ClickHouse,
with a window over each series run (series_key, start_ns) ordered by time: a point's delta is its
value minus the previous point's. The first point of a run in the fetched range is all new when
the run started inside it (a new process), else only the baseline for the next point (delta 0);
the fetch starts LOOKBACK before the window, so a run that began earlier has its baseline. A
value below the previous one is a reset and counts whole. Delta points are their own delta.
Copies of a redelivered point share the table's key and collapse under FINAL.

Sums of token counts and costs, and counts of durations, are added in ClickHouse per time bucket
and group; quantiles are estimated in Python from the merged bucket counts (schemas.bucket_quantiles).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.bucket_quantiles import Buckets, estimate_quantiles
from schemas.clickhouse.store import Store

LOOKBACK = timedelta(hours=6)
BUCKET_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
GROUP_COLUMNS = ("model", "service", "provider", "operation")
FILTER_COLUMNS = ("model", "service")  # the overview's filters that metric points carry too
TOKENS = "gen_ai.client.token.usage"
DURATION = "gen_ai.client.operation.duration"
TTFT_NAMES = ("gen_ai.client.operation.time_to_first_chunk", "gen_ai.server.time_to_first_token")
COST = "gen_ai.usage.cost"
READ_NAMES = (TOKENS, DURATION, *TTFT_NAMES, COST)
MS_PER_UNIT = {"s": 1000.0, "ms": 1.0, "us": 0.001, "min": 60000.0}  # durations are shown in ms

_DELTAS_SQL = """
SELECT intDiv(time_ns, {bucket_ns:UInt64}) * {bucket_ns:UInt64} AS bucket_ns, group_key, name, unit,
       token_type, error_type != '' AS failed, bounds,
       sum(d_count) AS count, sum(d_sum) AS total, sumForEach(d_counts) AS counts,
       min(min) AS low, max(max) AS high
FROM (
    SELECT time_ns, group_key, name, unit, token_type, error_type, bounds, min, max,
           multiIf(fresh, toInt64(count), baseline, 0, toInt64(count) - toInt64(prev_count)) AS d_count,
           multiIf(fresh, sum, baseline, 0., sum - prev_sum) AS d_sum,
           multiIf(baseline, arrayMap(c -> toInt64(0), bucket_counts),
                   fresh OR length(prev_counts) != length(bucket_counts), arrayMap(c -> toInt64(c), bucket_counts),
                   arrayMap((c, p) -> toInt64(c) - toInt64(p), bucket_counts, prev_counts)) AS d_counts
    FROM (
        SELECT *,
               temporality != 'cumulative' OR (rn = 1 AND start_ns >= {fetch_from:UInt64})
                   OR (rn > 1 AND count < prev_count) AS fresh,
               temporality = 'cumulative' AND rn = 1 AND start_ns < {fetch_from:UInt64} AS baseline
        FROM (
            SELECT time_ns, start_ns, temporality, {group} AS group_key, name, unit, token_type, error_type,
                   bounds, count, sum, bucket_counts, min, max,
                   row_number() OVER run AS rn,
                   lagInFrame(count) OVER run AS prev_count,
                   lagInFrame(sum) OVER run AS prev_sum,
                   lagInFrame(bucket_counts) OVER run AS prev_counts
            FROM {db}.otel_metric_points FINAL
            WHERE project_id = {project:String} AND name IN {names:Array(String)}
              AND kind IN ('histogram', 'exp_histogram')
              AND time_ns >= {fetch_from:UInt64} AND time_ns < {end:UInt64} {filters}
            WINDOW run AS (PARTITION BY series_key, start_ns ORDER BY time_ns
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
    )
    WHERE time_ns >= {start:UInt64}
)
GROUP BY bucket_ns, group_key, name, unit, token_type, failed, bounds
ORDER BY bucket_ns, group_key
"""

_NAMES_SQL = """
SELECT name, kind, unit, count() AS points, uniqExact(series_key) AS series
FROM {db}.otel_metric_points FINAL
WHERE project_id = {project:String} AND time_ns >= {start:UInt64} AND time_ns < {end:UInt64}
GROUP BY name, kind, unit ORDER BY name, kind, unit
"""


@dataclass(frozen=True)
class MetricsQuery:
    project: str
    start: datetime
    end: datetime
    bucket: str = "hour"
    group_by: str | None = None
    filters: dict[str, str] = field(default_factory=dict)  # FILTER_COLUMNS → value


def received_metrics(store: Store, project: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every metric with points in the range, stored or not read here (gen_ai.*, llm.*)."""
    params = {"project": project, "start": to_ns(start), "end": to_ns(end)}
    return store.query_dicts(_NAMES_SQL, params, "otel_metrics_names")


def metric_deltas(store: Store, query: MetricsQuery) -> list[dict[str, Any]]:
    """Per time bucket, group, metric, token type and failure: new observations (count, sum, buckets)."""
    group = query.group_by if query.group_by in GROUP_COLUMNS else "''"
    filters = {f"f_{k}": v for k, v in query.filters.items() if k in FILTER_COLUMNS}
    params = {"project": query.project, "names": list(READ_NAMES), "start": to_ns(query.start),
              "end": to_ns(query.end), "fetch_from": to_ns(max(query.start - LOOKBACK, _EPOCH)),
              "bucket_ns": BUCKET_SECONDS[query.bucket] * 10**9, **filters}
    conditions = "".join(f" AND {key[2:]} = {{{key}:String}}" for key in filters)
    sql = _DELTAS_SQL.replace("{group}", group).replace("{filters}", conditions)
    return store.query_dicts(sql, params, "otel_metrics_deltas")


def otel_metric_series(store: Store, query: MetricsQuery) -> dict[str, Any]:
    """The figures per group: a point per time bucket and the range's totals."""
    rows = metric_deltas(store, query)
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_group[row["group_key"]].append(row)
    series = [{"key": key if query.group_by else None, "points": _points(group_rows),
               "total": figures(group_rows)} for key, group_rows in sorted(by_group.items())]
    return {"series": series, "total": figures(rows)}


def _points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_bucket: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_bucket[int(row["bucket_ns"])].append(row)
    return [{"time": datetime.fromtimestamp(ns / 1e9, UTC).isoformat(), **figures(bucket_rows)}
            for ns, bucket_rows in sorted(by_bucket.items())]


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens by type, requests, errors, duration and TTFT quantiles (ms) and cost of these rows."""
    tokens: dict[str, float] = defaultdict(float)
    for row in rows:
        if row["name"] == TOKENS:
            tokens[row["token_type"] or "unknown"] += row["total"]
    durations = [r for r in rows if r["name"] == DURATION]
    costs = [r["total"] for r in rows if r["name"] == COST]
    return {
        "tokens": dict(sorted(tokens.items())),
        "requests": sum(int(r["count"]) for r in durations),
        "errors": sum(int(r["count"]) for r in durations if r["failed"]),
        "duration_ms": _quantiles(durations, (0.5, 0.95, 0.99)),
        "ttft_ms": _quantiles(_ttft_rows(rows), (0.5, 0.95)),
        "cost": sum(costs) if costs else None,
    }


def _ttft_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The client's time to first chunk where sent; else the server TTFT (OpenLIT records that one
    on non-streamed calls too, as their whole latency, so it is the second choice)."""
    for name in TTFT_NAMES:
        found = [r for r in rows if r["name"] == name and r["count"]]
        if found:
            return found
    return []


def _quantiles(rows: list[dict[str, Any]], quantiles: tuple[float, ...]) -> dict[str, float | None]:
    found = estimate_quantiles([_in_ms(r) for r in rows], quantiles)
    return {f"p{round(q * 100)}": value for q, value in found.items()}


def _in_ms(row: dict[str, Any]) -> Buckets:
    """A row's buckets with bounds and extremes in ms. A run's min and max (over its whole life)
    bound every observation of its deltas too, so they narrow the buckets of any part of it."""
    scale = MS_PER_UNIT.get(row["unit"], 1000.0)
    low, high = row["low"], row["high"]
    return Buckets([b * scale for b in row["bounds"]], row["counts"], None if low is None else low * scale,
                   None if high is None else high * scale)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch; times before it (the API's 'forever') are 0."""
    delta = moment - _EPOCH  # whole numbers: a float of seconds would lose the nanoseconds
    return max(0, (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)
