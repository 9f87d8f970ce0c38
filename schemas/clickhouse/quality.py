"""Read queries over evaluations and drift events (the quality side of the detectors).

A span may carry several verdicts (the offline scorer, the LLM judge, the app's own score or a
user's feedback, a person's label from the annotation queue); the hallucination rate takes one
per span, the most authoritative: a person's label, then what the app said, then the judge, then
the offline scorer. A label of "unsure" carries no verdict, so the next one down counts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from schemas.clickhouse.filters import filter_conditions, filter_params
from schemas.clickhouse.queries import time_range
from schemas.clickhouse.store import Store

EVALUATIONS_TABLE = "evaluations"
DRIFT_TABLE = "drift_events"
SOURCE_HUMAN, SOURCE_APP, SOURCE_JUDGE, SOURCE_OFFLINE = "human", "app", "judge", "offline"
# An experiment's scores of its own items (evals.scoring): kept out of the project's hallucination
# rate, which measures production; the experiment's page and summary show them.
SOURCE_EXPERIMENT = "experiment"
MODEL_SOURCES = (SOURCE_JUDGE, SOURCE_OFFLINE)  # scores a model gave, the drift detector's "scores" feature
_AUTHORITY = (f"multiIf(e.source = '{SOURCE_HUMAN}', 4, e.source = '{SOURCE_APP}', 3, "
              f"e.source = '{SOURCE_JUDGE}', 2, 1)")
QUALITY_GROUPS = {"model": "request_model", "scorer": "scorer"}

_VERDICT = f"tuple({_AUTHORITY}, e.created_at)"
# The order of the verdicts on one span (alias `e`), for argMax: the most authoritative, then the newest.
VERDICT_ORDER = _VERDICT
# The window's shadow calls (a score is filed at its span's start time).
SHADOW_SPANS = ("SELECT x.trace_id, x.span_id FROM {db}.spans AS x WHERE x.project_id = {project:String} "
                "AND x.shadow_of != '' AND x.start_time >= {start:DateTime64(6, 'UTC')} "
                "AND x.start_time < {end:DateTime64(6, 'UTC')}")


def span_verdicts_sql(with_reason: bool = False, filters: Mapping[str, str] | None = None) -> str:
    """One verdict per scored span in `{start}`..`{end}`: the most authoritative one; only spans
    that match `filters` (bound by `filter_params`) when given. Shadow calls (`schemas.shadow_fields`)
    are scored, for the shadow report, but answered no user: they stay out of production's verdicts."""
    extra = (f", argMax(e.score, {_VERDICT}) AS score, argMax(e.label, {_VERDICT}) AS label, "
             f"argMax(e.reason, {_VERDICT}) AS reason, argMax(e.annotator, {_VERDICT}) AS annotator"
             if with_reason else "")
    matching = "".join(f" AND {c}" for c in _span_conditions(filters or {}))
    return f"""
    SELECT e.trace_id AS trace_id, e.span_id AS span_id, any(e.request_model) AS request_model,
        argMax(e.hallucinated, {_VERDICT}) AS hallucinated, argMax(e.scorer, {_VERDICT}) AS scorer,
        min(e.span_time) AS span_time {extra}
    FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL
    WHERE e.project_id = {{project:String}} AND e.hallucinated IS NOT NULL AND e.source != '{SOURCE_EXPERIMENT}'
        AND e.span_time >= {{start:DateTime64(6, 'UTC')}} AND e.span_time < {{end:DateTime64(6, 'UTC')}}{matching}
        AND (e.trace_id, e.span_id) NOT IN ({SHADOW_SPANS})
    GROUP BY e.trace_id, e.span_id
    """


def _span_conditions(filters: Mapping[str, str]) -> list[str]:
    """The model is the evaluation's own; service, user, tag… are facts of the scored span, looked
    up among the window's spans (a score is filed at its span's start time)."""
    conditions = ["e.request_model = {f_model:String}"] if "model" in filters else []
    of_span = {name: value for name, value in filters.items() if name != "model"}
    if of_span:
        where = " AND ".join(["s.project_id = {project:String}", time_range("s"), *filter_conditions(of_span, "s")])
        conditions.append(f"(e.trace_id, e.span_id) IN (SELECT s.trace_id, s.span_id FROM {{db}}.spans AS s "
                          f"WHERE {where})")
    return conditions


def with_model(filters: Mapping[str, str] | None, model: str | None) -> dict[str, str]:
    """`filters` plus the older `model=` argument of the quality reads."""
    return {**(filters or {}), **({"model": model} if model else {})}


def hallucination_counts(store: Store, project: str, start: datetime, end: datetime,
                         group_by: str | None = None, model: str | None = None,
                         filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """(key, sampled, flagged) per group: scored spans (that match `filters`) and those judged hallucinated."""
    key = f"v.{QUALITY_GROUPS[group_by]}" if group_by else "''"
    matching = with_model(filters, model)
    sql = (f"SELECT {key} AS key, count() AS sampled, countIf(v.hallucinated) AS flagged "
           f"FROM ({span_verdicts_sql(filters=matching)}) AS v GROUP BY key ORDER BY key")
    params = {"project": project, "start": start, "end": end, **filter_params(matching)}
    return store.query_dicts(sql, params, "hallucination_counts")


# Shadow calls the shadow-pairs detector has listed (schemas.clickhouse.shadow_pairs): a read that must
# not scan spans (a Prometheus scrape) leaves them out by this table and the scores' own copy of
# `shadow_of` (migration 0012) instead of SHADOW_SPANS.
_PAIRED_SHADOWS = ("SELECT p.trace_id, p.candidate_id FROM {db}.shadow_pairs AS p WHERE p.start_time >= "
                   "{start:DateTime64(6, 'UTC')} AND p.start_time < {end:DateTime64(6, 'UTC')}")


def hallucination_by_model(store: Store, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """(project, model, sampled, flagged) of every project's scored spans in the window, one verdict a
    span as the hallucination rate counts them, read from the evaluations alone (no span is read)."""
    sql = f"""
    SELECT v.project_id AS project_id, v.request_model AS request_model, count() AS sampled,
        countIf(v.hallucinated) AS flagged
    FROM (SELECT e.project_id AS project_id, any(e.request_model) AS request_model,
            argMax(e.hallucinated, {_VERDICT}) AS hallucinated
          FROM {{db}}.{EVALUATIONS_TABLE} AS e FINAL
          WHERE e.hallucinated IS NOT NULL AND e.source != '{SOURCE_EXPERIMENT}' AND e.shadow_of = ''
            AND e.span_time >= {{start:DateTime64(6, 'UTC')}} AND e.span_time < {{end:DateTime64(6, 'UTC')}}
            AND (e.trace_id, e.span_id) NOT IN ({_PAIRED_SHADOWS})
          GROUP BY e.project_id, e.trace_id, e.span_id) AS v
    GROUP BY project_id, request_model ORDER BY project_id, request_model"""
    return store.query_dicts(sql, {"start": start, "end": end}, "hallucination_by_model")


def drift_event_count(store: Store, project: str, start: datetime, end: datetime, model: str | None = None) -> int:
    where = "AND request_model = {model:String}" if model else ""
    sql = (f"SELECT count() FROM {{db}}.{DRIFT_TABLE} FINAL WHERE project_id = {{project:String}} "
           f"AND detected_at >= {{start:DateTime64(6, 'UTC')}} AND detected_at < {{end:DateTime64(6, 'UTC')}} {where}")
    params = {"project": project, "start": start, "end": end, "model": model or ""}
    return int(store.query(sql, params, "drift_event_count")[0][0])


def drift_events(store: Store, project: str, start: datetime, end: datetime, model: str | None = None,
                 kind: str | None = None, provider: str | None = None) -> list[dict[str, Any]]:
    """Drift events that touch the window, newest first, in the API's shape.

    An event spans from the estimated change to its detection; it is listed when that span meets
    the window, so a change inside the window shows even if it was detected later, and one
    detected inside the window shows even if it began before.
    """
    where = " AND request_model = {model:String}" if model else ""
    where += " AND kind = {kind:String}" if kind else ""
    where += " AND provider = {provider:String}" if provider else ""
    sql = (f"SELECT * FROM {{db}}.{DRIFT_TABLE} FINAL WHERE project_id = {{project:String}} "
           f"AND detected_at >= {{start:DateTime64(6, 'UTC')}} AND changed_at < {{end:DateTime64(6, 'UTC')}}{where} "
           "ORDER BY detected_at DESC, event_id")
    params = {"project": project, "start": start, "end": end, "model": model or "", "kind": kind or "",
              "provider": provider or ""}
    return [_drift_json(row) for row in store.query_dicts(sql, params, "drift_events")]


def _drift_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["event_id"], "kind": row["kind"], "model": row["request_model"], "provider": row["provider"],
        "from": row["from_value"], "to": row["to_value"], "features": json.loads(row["features"] or "[]"),
        "detected_at": _iso_utc(row["detected_at"]), "changed_at": _iso_utc(row["changed_at"]),
        "auc": row["auc"], "p_value": row["p_value"], "baseline_n": row["baseline_n"],
        "current_n": row["current_n"], "summary": row["summary"],
    }


def _iso_utc(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
