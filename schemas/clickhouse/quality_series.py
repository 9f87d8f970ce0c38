"""Read queries behind the Quality page: the hallucination rate per time bucket, score histograms
and the flagged spans of one model.

Counts come from the same one-verdict-per-span subquery as `schemas.clickhouse.quality`, so the series, the
per-model table and the API agree; only counts leave ClickHouse (a few rows per bucket), and the
page computes each bucket's Wilson interval from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.clickhouse.quality import EVALUATIONS_TABLE, span_verdicts_sql
from schemas.clickhouse.store import Store

# Bucket names map to ClickHouse functions from this closed table, never from user input.
BUCKETS = {"hour": "toStartOfHour", "day": "toStartOfDay"}
HISTOGRAM_BINS = 10


def hallucination_series(store: Store, project: str, start: datetime, end: datetime, bucket: str = "hour",
                         model: str | None = None) -> list[dict[str, Any]]:
    """(t, sampled, flagged) per time bucket with at least one scored span, oldest first."""
    where = "WHERE v.request_model = {model:String}" if model else ""
    sql = (f"SELECT {BUCKETS[bucket]}(v.span_time) AS t, count() AS sampled, countIf(v.hallucinated) AS flagged "
           f"FROM ({span_verdicts_sql()}) AS v {where} GROUP BY t ORDER BY t")
    params = {"project": project, "start": start, "end": end, "model": model or ""}
    return store.query_dicts(sql, params, "quality_hallucination_series")


def score_histograms(store: Store, project: str, start: datetime, end: datetime,
                     model: str | None = None) -> list[dict[str, Any]]:
    """(scorer, bin, bin_lo, bin_hi, calls) per scorer and non-empty bin, over each scorer's own scores.

    Bins span [0, 1] for scorers that stay inside it (the offline scorer, the judge) and widen to
    the scorer's range for apps that score on another scale, so every scorer gets ten even bins.
    """
    where = "AND request_model = {model:String}" if model else ""
    sql = f"""
    SELECT scorer, bin, lo + bin * width AS bin_lo, lo + (bin + 1) * width AS bin_hi, count() AS calls
    FROM (
        SELECT scorer, lo, width,
            toUInt8(least(greatest(floor((score - lo) / width), 0), {HISTOGRAM_BINS - 1})) AS bin
        FROM (
            SELECT scorer, score,
                least(min(score) OVER (PARTITION BY scorer), 0) AS lo,
                (greatest(max(score) OVER (PARTITION BY scorer), 1) - lo) / {HISTOGRAM_BINS} AS width
            FROM {{db}}.{EVALUATIONS_TABLE} FINAL
            WHERE project_id = {{project:String}} AND score IS NOT NULL AND isFinite(score)
                AND span_time >= {{start:DateTime64(6, 'UTC')}} AND span_time < {{end:DateTime64(6, 'UTC')}}
                {where}
        )
    )
    GROUP BY scorer, bin, lo, width ORDER BY scorer, bin"""
    params = {"project": project, "start": start, "end": end, "model": model or ""}
    return store.query_dicts(sql, params, "quality_score_histograms")


def flagged_calls(store: Store, project: str, start: datetime, end: datetime, limit: int,
                  model: str | None = None) -> list[dict[str, Any]]:
    """Spans judged hallucinated, newest first, optionally of one model, with the verdict that counts."""
    where = "AND v.request_model = {model:String}" if model else ""
    sql = (f"SELECT v.* FROM ({span_verdicts_sql(with_reason=True)}) AS v WHERE v.hallucinated {where} "
           "ORDER BY v.span_time DESC, v.trace_id, v.span_id LIMIT {limit:UInt32}")
    params = {"project": project, "start": start, "end": end, "limit": limit, "model": model or ""}
    return store.query_dicts(sql, params, "quality_flagged_calls")


def scored_models(store: Store, project: str, start: datetime, end: datetime) -> list[str]:
    """Models with at least one evaluation in the window: the page's model picker."""
    sql = (f"SELECT DISTINCT request_model FROM {{db}}.{EVALUATIONS_TABLE} WHERE project_id = {{project:String}} "
           "AND span_time >= {start:DateTime64(6, 'UTC')} AND span_time < {end:DateTime64(6, 'UTC')} "
           "AND request_model != '' ORDER BY request_model")
    return [row[0] for row in store.query(sql, {"project": project, "start": start, "end": end}, "quality_models")]
