"""What the drift detector reads and writes: served versions per requested model, call features,
drift events. Aggregation and sampling happen in ClickHouse; Python sees at most a capped sample."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.clickhouse.columns import column_lists
from schemas.clickhouse.quality import DRIFT_TABLE, EVALUATIONS_TABLE, MODEL_SOURCES
from schemas.clickhouse.store import Store
from schemas.experiment_fields import EXPERIMENT_ENVIRONMENT

DRIFT_COLUMNS = (
    "project_id", "event_id", "kind", "request_model", "provider", "from_value", "to_value", "changed_at",
    "detected_at", "features", "auc", "p_value", "baseline_n", "current_n", "summary",
)
SAMPLE_SCALE = 1_000_000
VERSION_COLUMNS = {"response_model": "response_model", "system_fingerprint": "system_fingerprint"}


@dataclass(frozen=True)
class ServedVersion:
    """One value (response model or fingerprint) served behind a requested model, and when."""

    request_model: str
    provider: str
    value: str
    first_seen: datetime
    last_seen: datetime
    calls: int


def served_versions(store: Store, project: str, start: datetime, end: datetime,
                    min_calls: int) -> dict[str, list[ServedVersion]]:
    """Per version column: versions seen at least `min_calls` times in the window, by requested
    model and first sighting. One scan for every column (over 10M calls each scan took 1-2 s).

    No FINAL: a redelivered span changes no first or last sighting, only inflates `calls` a little.
    The in-service runner's calls are left out: a regression run against another endpoint may be
    served another version, which is no change of what production gets.
    """
    names = ", ".join(f"'{name}'" for name in VERSION_COLUMNS)
    columns = ", ".join(VERSION_COLUMNS.values())
    sql = f"""
    SELECT column, request_model, any(provider) AS provider, value,
        min(first) AS first_seen, max(last) AS last_seen, sum(n) AS calls
    FROM (
        SELECT request_model, {columns}, any(provider) AS provider,
            min(start_time) AS first, max(start_time) AS last, count() AS n
        FROM {{db}}.spans
        WHERE project_id = {{project:String}} AND span_type = 'llm' AND request_model != ''
            AND status_code != 'error' AND environment != {{experiments:String}}
            AND start_time >= {{start:DateTime64(6, 'UTC')}} AND start_time < {{end:DateTime64(6, 'UTC')}}
        GROUP BY request_model, {columns}
    )
    ARRAY JOIN [{names}] AS column, [{columns}] AS value
    WHERE value != ''
    GROUP BY column, request_model, value HAVING calls >= {{min_calls:UInt32}}
    ORDER BY column, request_model, first_seen"""
    params = {"project": project, "start": start, "end": end, "min_calls": min_calls,
              "experiments": EXPERIMENT_ENVIRONMENT}
    found: dict[str, list[ServedVersion]] = {name: [] for name in VERSION_COLUMNS}
    for row in store.query_dicts(sql, params, "drift_versions"):
        found[row.pop("column")].append(ServedVersion(**row))
    return found


def model_window_counts(store: Store, project: str, start: datetime, split: datetime, end: datetime,
                        min_calls: int) -> dict[str, tuple[int, int]]:
    """Requested model → (calls in [start, split), calls in [split, end)), for models with enough of both."""
    sql = ("SELECT request_model, countIf(start_time < {split:DateTime64(6, 'UTC')}) AS before, "
           "countIf(start_time >= {split:DateTime64(6, 'UTC')}) AS after FROM {db}.spans "
           "WHERE project_id = {project:String} AND span_type = 'llm' AND request_model != '' "
           "AND start_time >= {start:DateTime64(6, 'UTC')} AND start_time < {end:DateTime64(6, 'UTC')} "
           "GROUP BY request_model HAVING before >= {n:UInt32} AND after >= {n:UInt32} ORDER BY request_model")
    params = {"project": project, "start": start, "split": split, "end": end, "n": min_calls}
    return {model: (int(b), int(a)) for model, b, a in store.query(sql, params, "drift_models")}


def call_features(store: Store, project: str, counts: dict[str, int], start: datetime, end: datetime,
                  limit: int) -> dict[str, list[dict[str, Any]]]:
    """Per-call behaviour features of each requested model in `counts` (model → calls in the window):
    an even sample of at most `limit` calls per model, from one scan of the window.

    A hash of the span picks about twice the sample before anything is sorted, so a week of a busy
    model costs a filtered scan, not a sort of every call; `LIMIT 1 BY` drops redelivered copies.
    A refusal is what ingest decided by the one rule (`schemas.refusals`), stored on the span.
    """
    if not counts:
        return {}
    keep = {model: min(SAMPLE_SCALE, SAMPLE_SCALE * 2 * limit // max(n, 1)) for model, n in counts.items()}
    sql = f"""
    SELECT * FROM (
    SELECT s.request_model AS model, cityHash64(s.trace_id, s.span_id) AS h,
        toUnixTimestamp64Micro(s.start_time) / 1e6 AS time,
        s.output_tokens AS output_tokens,
        if(s.output_tokens > 0, (s.duration_ms - ifNull(s.ttft_ms, 0)) / s.output_tokens, NULL)
            AS latency_per_token_ms,
        s.ttft_ms AS ttft_ms, if(empty(s.finish_reasons), '', s.finish_reasons[1]) AS finish_reason,
        s.status_code = 'error' AS error, s.refusal AS refusal,
        substring(s.output_messages, 1, 4000) AS output_messages, ev.score AS score
    FROM {{db}}.spans AS s
    LEFT JOIN (SELECT e.trace_id AS trace_id, e.span_id AS span_id, avg(e.score) AS score
               FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL
               WHERE e.project_id = {{project:String}} AND e.score IS NOT NULL AND e.source IN {MODEL_SOURCES}
               GROUP BY e.trace_id, e.span_id) AS ev ON ev.trace_id = s.trace_id AND ev.span_id = s.span_id
    WHERE s.project_id = {{project:String}} AND s.span_type = 'llm' AND s.request_model IN {{models:Array(String)}}
        AND s.start_time >= {{start:DateTime64(6, 'UTC')}} AND s.start_time < {{end:DateTime64(6, 'UTC')}}
        AND cityHash64(s.trace_id, s.span_id) % {SAMPLE_SCALE}
            < transform(s.request_model, {{models:Array(String)}}, {{keep:Array(UInt64)}}, toUInt64(0))
    LIMIT 1 BY s.trace_id, s.span_id
    ) ORDER BY h LIMIT {{limit:UInt32}} BY model
    SETTINGS join_use_nulls = 1"""
    params = {"project": project, "models": list(keep), "keep": list(keep.values()), "start": start, "end": end,
              "limit": limit}
    by_model: dict[str, list[dict[str, Any]]] = {model: [] for model in counts}
    for row in store.query_dicts(sql, params, "drift_features"):
        by_model[row["model"]].append(row)
    return by_model


def insert_drift_events(store: Store, events: Sequence[dict[str, Any]]) -> None:
    if events:
        rows = [{**e, "features": json.dumps(e["features"])} for e in events]
        store.insert_columns(DRIFT_TABLE, DRIFT_COLUMNS, column_lists(rows, DRIFT_COLUMNS))


def known_event_ids(store: Store, project: str) -> set[str]:
    sql = f"SELECT DISTINCT event_id FROM {{db}}.{DRIFT_TABLE} WHERE project_id = {{project:String}}"
    return {row[0] for row in store.query(sql, {"project": project}, "drift_known")}
