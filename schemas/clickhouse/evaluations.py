"""Evaluations: which LLM spans to score, storing scores, importing the scores apps send.

Sampling is deterministic (a hash of trace and span id against the project's rate), so every
process and every rerun picks the same spans, and raising the rate only adds spans.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.clickhouse.columns import column_lists
from schemas.clickhouse.filters import filter_params
from schemas.clickhouse.quality import EVALUATIONS_TABLE, SOURCE_APP, span_verdicts_sql
from schemas.clickhouse.span_facts import COPIED_COLUMNS, FACT_COLUMNS, facts_sql, with_span_facts
from schemas.clickhouse.store import Store
from schemas.experiment_fields import EXPERIMENT_KEYS

SAMPLE_SCALE = 1_000_000
EXPERIMENT_MARGIN_HOURS = 24
EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_COLUMNS = (
    "project_id", "trace_id", "span_id", "evaluation_id", "scorer", "name", "score", "label", "reason",
    "hallucinated", "request_model", "span_time", "source", "cost", "input_tokens", "output_tokens", "error",
)
# An app's evaluation counts towards the hallucination rate when its name says what it measured.
_QUALITY_NAME = "match(lower(name), 'hallucinat|grounded|faithful|factual')"
_FLAGGING_LABELS = "('hallucinated', 'hallucination', 'ungrounded', 'not_grounded', 'unfaithful', 'fail', 'incorrect')"
_NEW_EVALUATION_EVENTS = (f"project_id = {{project:String}} AND event_name = '{EVALUATION_EVENT}' "
                          "AND ingested_at > {since:DateTime64(6, 'UTC')}")
_ANY_FACTS = ", ".join(f"any({c}) AS {c}" for c in FACT_COLUMNS)
_PASSING_LABELS = "('grounded', 'faithful', 'factual', 'pass', 'correct', 'not_hallucinated')"


@dataclass(frozen=True)
class SpanToScore:
    trace_id: str
    span_id: str
    request_model: str
    start_time: datetime
    input_messages: str
    output_messages: str
    documents: list[str]  # retrieval_documents JSON of the span and of its trace's retrieval spans
    ingested_at: datetime | None = None


_PAIRED_ID = "if(s.shadow_of != '', s.shadow_of, s.span_id)"  # a shadow call is sampled with its primary


def sampled_spans(store: Store, project: str, rate: float, since: datetime, oldest: datetime, scorer: str,
                  limit: int) -> list[SpanToScore]:
    """LLM spans ingested after `since` (started after `oldest`), picked by the sample rate, oldest
    ingest first, that `scorer` has not scored yet; the ingest-time bound keeps each run's scan to
    what arrived since the last one. Traces with a span that names an experiment (ours or
    Langfuse's attribute) are not production traffic: their scores come from the experiment, and a
    deliberately bad candidate model must not raise production's hallucination rate. The whole
    trace counts, since an app run tags only its item's root span, and its LLM calls are children;
    a root ingested up to EXPERIMENT_MARGIN_HOURS before a child is still seen.
    A shadow call is picked exactly when its primary is (hashed by the primary's span id), so the
    shadow report finds both answers scored; the hallucination rate leaves shadow calls out."""
    sql = f"""
    SELECT s.trace_id AS trace_id, s.span_id AS span_id, any(s.request_model) AS request_model,
        any(s.start_time) AS start_time, any(s.input_messages) AS input_messages,
        any(s.output_messages) AS output_messages, max(s.ingested_at) AS ingested_at
    FROM {{db}}.spans AS s
    WHERE s.project_id = {{project:String}} AND s.span_type = 'llm'
        AND s.ingested_at > {{since:DateTime64(6, 'UTC')}} AND s.start_time >= {{oldest:DateTime64(6, 'UTC')}}
        AND cityHash64(s.trace_id, {_PAIRED_ID}) % {SAMPLE_SCALE} < {{threshold:UInt64}}
        AND s.trace_id NOT IN (SELECT x.trace_id FROM {{db}}.spans AS x WHERE x.project_id = {{project:String}}
            AND x.ingested_at > {{since:DateTime64(6, 'UTC')}} - INTERVAL {EXPERIMENT_MARGIN_HOURS} HOUR
            AND hasAny(mapKeys(x.attributes), {{experiment_keys:Array(String)}}))
        AND (s.trace_id, s.span_id) NOT IN (SELECT e.trace_id, e.span_id FROM {{db}}.{EVALUATIONS_TABLE} AS e
            WHERE e.project_id = {{project:String}} AND e.scorer = {{scorer:String}})
    GROUP BY s.trace_id, s.span_id
    ORDER BY ingested_at LIMIT {{limit:UInt32}}"""
    params = {"project": project, "since": since, "oldest": oldest, "threshold": int(rate * SAMPLE_SCALE),
              "scorer": scorer, "limit": limit, "experiment_keys": list(EXPERIMENT_KEYS)}
    rows = store.query_dicts(sql, params, "evaluations_sample")
    documents = trace_documents(store, project, [r["trace_id"] for r in rows])
    return [_span_to_score(row, documents.get(row["trace_id"], [])) for row in rows]


def trace_documents(store: Store, project: str, trace_ids: Sequence[str]) -> dict[str, list[str]]:
    if not trace_ids:
        return {}
    sql = ("SELECT trace_id, groupArray(retrieval_documents) AS docs FROM {db}.spans FINAL "
           "WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
           "AND retrieval_documents != '' GROUP BY trace_id")
    rows = store.query(sql, {"project": project, "traces": list(set(trace_ids))}, "evaluations_documents")
    return {trace_id: list(docs) for trace_id, docs in rows}


def _span_to_score(row: dict[str, Any], documents: list[str]) -> SpanToScore:
    return SpanToScore(row["trace_id"], row["span_id"], row["request_model"], row["start_time"],
                       row["input_messages"], row["output_messages"], documents, row.get("ingested_at"))


def evaluation_key(identity: str) -> str:
    """A short stable id: the same scorer on the same span replaces its earlier row."""
    return hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:16]


def insert_evaluations(store: Store, rows: Sequence[dict[str, Any]],
                       columns: Sequence[str] = EVALUATION_COLUMNS) -> None:
    """`columns` beyond EVALUATION_COLUMNS: the annotator of a judge's verdict (its model), a
    person's correction. Every row gets a copy of its span's facts (`span_facts`)."""
    if rows:
        copied = (*columns, *COPIED_COLUMNS)
        store.insert_columns(EVALUATIONS_TABLE, copied, column_lists(with_span_facts(store, rows), copied))


def import_app_evaluations(store: Store, project: str, since: datetime) -> int:
    """Copy `gen_ai.evaluation.result` events (log records) received since `since` into evaluations."""
    sql = f"""
    INSERT INTO {{db}}.{EVALUATIONS_TABLE} ({", ".join((*EVALUATION_COLUMNS, *COPIED_COLUMNS))})
    SELECT e.project_id, e.trace_id, e.span_id, e.record_id, concat('app:', name), name,
        toFloat64OrNull(e.attributes['gen_ai.evaluation.score.value']), label,
        e.attributes['gen_ai.evaluation.explanation'],
        if({_QUALITY_NAME}, multiIf(lower(label) IN {_FLAGGING_LABELS}, true,
                                    lower(label) IN {_PASSING_LABELS}, false, NULL), NULL),
        ifNull(s.request_model, ''), ifNull(s.start_time, e.time), '{SOURCE_APP}', NULL, 0, 0,
        e.attributes['error.type'], ifNull(s.found, 0) = 1, {facts_sql("s")}
    FROM (SELECT *, attributes['gen_ai.evaluation.name'] AS name, attributes['gen_ai.evaluation.score.label'] AS label
          FROM {{db}}.genai_events FINAL WHERE {_NEW_EVALUATION_EVENTS}) AS e
    LEFT JOIN (SELECT trace_id, span_id, any(request_model) AS request_model, any(start_time) AS start_time,
                   1 AS found, {_ANY_FACTS}
               FROM {{db}}.spans WHERE project_id = {{project:String}} AND trace_id IN
                   (SELECT trace_id FROM {{db}}.genai_events WHERE {_NEW_EVALUATION_EVENTS})
               GROUP BY trace_id, span_id) AS s
        ON s.trace_id = e.trace_id AND s.span_id = e.span_id
    SETTINGS join_use_nulls = 1"""
    fresh = f"SELECT count() FROM {{db}}.genai_events WHERE {_NEW_EVALUATION_EVENTS}"
    if not store.query(fresh, {"project": project, "since": since}, "evaluations_new_events")[0][0]:
        return 0
    before = _count(store, project)
    store.query(sql, {"project": project, "since": since}, "evaluations_import")
    return _count(store, project) - before


def _count(store: Store, project: str) -> int:
    sql = f"SELECT count() FROM {{db}}.{EVALUATIONS_TABLE} WHERE project_id = {{project:String}}"
    return int(store.query(sql, {"project": project}, "evaluations_count")[0][0])


def span_facts(store: Store, project: str, trace_id: str, span_id: str | None) -> dict[str, Any] | None:
    """The model and time of a span (or of a trace's first LLM call), to file a score sent by an app."""
    where = "AND span_id = {span:String}" if span_id else "AND is_call"
    sql = (f"SELECT span_id, request_model, start_time FROM {{db}}.spans FINAL WHERE project_id = {{project:String}} "
           f"AND trace_id = {{trace:String}} {where} ORDER BY start_time LIMIT 1")
    rows = store.query_dicts(sql, {"project": project, "trace": trace_id, "span": span_id or ""}, "evaluations_span")
    return rows[0] if rows else None


def flagged_spans(store: Store, project: str, start: datetime, end: datetime, limit: int,
                  filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Spans judged hallucinated (of those matching `filters`), newest first, with the verdict that
    counts (see schemas.clickhouse.quality)."""
    sql = (f"SELECT v.* FROM ({span_verdicts_sql(with_reason=True, filters=filters)}) AS v WHERE v.hallucinated "
           f"ORDER BY v.span_time DESC LIMIT {{limit:UInt32}}")
    params = {"project": project, "start": start, "end": end, "limit": limit, **filter_params(filters or {})}
    return store.query_dicts(sql, params, "evaluations_flagged")


def trace_evaluations(store: Store, project: str, trace_id: str, first: datetime, last: datetime
                      ) -> list[dict[str, Any]]:
    """Every score of a trace's spans (offline, judge, app, a person's label, an experiment's checks),
    for the trace view; `first`..`last` are its spans' start times, where their scores are filed."""
    sql = (f"SELECT span_id, scorer, name, score, label, reason, source, annotator, error, hallucinated "
           f"FROM {{db}}.{EVALUATIONS_TABLE} FINAL WHERE project_id = {{project:String}} "
           "AND span_time >= {first:DateTime64(6, 'UTC')} AND span_time <= {last:DateTime64(6, 'UTC')} "
           "AND trace_id = {trace:String} ORDER BY span_id, source, scorer")
    params = {"project": project, "trace": trace_id, "first": first, "last": last}
    return store.query_dicts(sql, params, "evaluations_of_trace")
