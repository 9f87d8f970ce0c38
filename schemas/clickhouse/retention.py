"""Which rows a project's retention removes: everything older than its cutoff, in every table.

Lightweight DELETEs (rows are masked at once, parts rewritten by later merges), issued only for
tables that hold expired rows, so a daily run over projects with nothing to expire writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from schemas.clickhouse.store import Store

# Table → the time that decides a row's age (the span's time for everything derived from spans).
RETENTION_TIMES = {
    "spans": "start_time",
    "genai_events": "time",
    "evaluations": "span_time",
    "call_metrics_minute": "bucket",
    "call_metrics_hour": "bucket",
    "call_spend_hour": "bucket",  # user ids and tags: they go with the calls they came from
    "shadow_pairs": "start_time",
    "cohort_hour": "bucket",
    "slo_minute": "bucket",  # an SLO's window reaches no further back than its calls are kept
    "slo_hour": "bucket",
    "drift_events": "detected_at",
    "otel_metric_points": "time",  # the app's OTLP metrics, kept as long as its spans
}


def expired_rows(store: Store, project: str, cutoff: datetime) -> dict[str, int]:
    """Rows older than `cutoff` per table that has any."""
    parts = [f"SELECT '{table}' AS t, count() AS n FROM {{db}}.{table} WHERE project_id = {{project:String}} "
             f"AND {column} < {{cutoff:DateTime64(6, 'UTC')}}" for table, column in RETENTION_TIMES.items()]
    rows = store.query(" UNION ALL ".join(parts), {"project": project, "cutoff": cutoff}, "retention_expired")
    return {table: int(count) for table, count in rows if count}


def delete_expired(store: Store, project: str, cutoff: datetime, tables: list[str]) -> None:
    for table in tables:
        store.query(f"DELETE FROM {{db}}.{table} WHERE project_id = {{project:String}} "
                    f"AND {RETENTION_TIMES[table]} < {{cutoff:DateTime64(6, 'UTC')}}",
                    {"project": project, "cutoff": cutoff}, "retention_delete")
