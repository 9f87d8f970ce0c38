"""Labels by hand: a person's verdict on an LLM span as an evaluation row, and the annotation queue.

A label is one evaluation row per span of source `human` (schemas.clickhouse.quality gives it the
highest authority): relabelling a span replaces its row (same scorer and evaluation id), so a
span never carries two labels, whoever gave them. "unsure" stores the label with no verdict, so
it leaves the hallucination rate to the other scorers and still takes the span off the queue.

The queue lists what nobody has labelled yet, oldest first: sampled spans (any span some scorer
scored) or flagged ones (whose verdict that counts is "hallucinated").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.clickhouse.evaluations import EVALUATION_COLUMNS, evaluation_key, insert_evaluations
from schemas.clickhouse.quality import (
    EVALUATIONS_TABLE,
    SOURCE_APP,
    SOURCE_EXPERIMENT,
    SOURCE_HUMAN,
    SOURCE_JUDGE,
    span_verdicts_sql,
)
from schemas.clickhouse.store import Store

HUMAN_SCORER = "human"
LABEL_COLUMNS = (*EVALUATION_COLUMNS, "annotator", "correction")
# label -> (score, hallucinated): a person's "correct" clears the span, "incorrect" flags it.
LABELS: dict[str, tuple[float | None, bool | None]] = {
    "correct": (1.0, False), "incorrect": (0.0, True), "unsure": (None, None)}
MAX_TEXT = 4000


@dataclass(frozen=True)
class Label:
    trace_id: str
    span_id: str
    label: str  # one of LABELS
    annotator: str
    comment: str = ""
    correction: str = ""  # the right answer the person wrote, if any


def label_row(project: str, label: Label, request_model: str, span_time: datetime) -> dict[str, Any]:
    """The evaluation row of `label`; its id depends on the span only, so a relabel replaces it."""
    score, hallucinated = LABELS[label.label]
    return {
        "project_id": project, "trace_id": label.trace_id, "span_id": label.span_id,
        "evaluation_id": evaluation_key(f"{HUMAN_SCORER}|{label.trace_id}|{label.span_id}"),
        "scorer": HUMAN_SCORER, "name": "label", "score": score, "label": label.label,
        "reason": label.comment[:MAX_TEXT], "hallucinated": hallucinated, "request_model": request_model,
        "span_time": span_time, "source": SOURCE_HUMAN, "cost": None, "input_tokens": 0, "output_tokens": 0,
        "error": "", "annotator": label.annotator, "correction": label.correction,
    }


def insert_labels(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        insert_evaluations(store, rows, LABEL_COLUMNS)


_LABELLED = (f"(SELECT h.trace_id, h.span_id FROM {{db}}.{EVALUATIONS_TABLE} AS h "
             f"WHERE h.project_id = {{project:String}} AND h.source = '{SOURCE_HUMAN}')")


def queue_spans(store: Store, project: str, kind: str, start: datetime, end: datetime,
                limit: int) -> list[dict[str, Any]]:
    """(trace_id, span_id, request_model, span_time) of spans of `kind` in the window that no person
    has labelled, oldest first."""
    if kind == "flagged":
        sql = (f"SELECT v.trace_id AS trace_id, v.span_id AS span_id, v.request_model AS request_model, "
               f"v.span_time AS span_time FROM ({span_verdicts_sql()}) AS v "
               f"WHERE v.hallucinated AND (v.trace_id, v.span_id) NOT IN {_LABELLED}")
    else:
        sql = (f"SELECT e.trace_id AS trace_id, e.span_id AS span_id, any(e.request_model) AS request_model, "
               f"min(e.span_time) AS span_time FROM {{db}}.{EVALUATIONS_TABLE} AS e "
               f"WHERE e.project_id = {{project:String}} "
               f"AND e.source NOT IN ('{SOURCE_HUMAN}', '{SOURCE_EXPERIMENT}') "  # experiment items: their own page
               "AND e.span_time >= {start:DateTime64(6, 'UTC')} AND e.span_time < {end:DateTime64(6, 'UTC')} "
               f"AND (e.trace_id, e.span_id) NOT IN {_LABELLED} GROUP BY e.trace_id, e.span_id")
    sql = f"SELECT * FROM ({sql}) ORDER BY span_time, trace_id, span_id LIMIT {{limit:UInt32}}"
    params = {"project": project, "start": start, "end": end, "limit": limit}
    return store.query_dicts(sql, params, f"annotations_queue_{kind}")


def span_evaluations(store: Store, project: str, spans: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list]:
    """Every verdict each of `spans` carries now (one row per scorer and evaluation id), the most
    authoritative source first: what the queue shows beside the answer."""
    if not spans:
        return {}
    sql = (f"SELECT trace_id, span_id, scorer, source, label, score, hallucinated, reason, annotator, correction, "
           f"created_at FROM {{db}}.{EVALUATIONS_TABLE} FINAL WHERE project_id = {{project:String}} "
           "AND trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)} "
           f"ORDER BY source = '{SOURCE_HUMAN}' DESC, source = '{SOURCE_APP}' DESC, source = '{SOURCE_JUDGE}' DESC, "
           "created_at")
    params = _id_params(project, spans)
    found: dict[tuple[str, str], list] = {key: [] for key in spans}
    for row in store.query_dicts(sql, params, "annotations_verdicts"):
        key = (row.pop("trace_id"), row.pop("span_id"))
        if key in found:
            found[key].append(row)
    return found


def spans_by_id(store: Store, project: str, spans: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The span rows of `spans` (as the trace view reads them), in no particular order."""
    if not spans:
        return []
    sql = ("SELECT * EXCEPT (ingested_at) FROM {db}.spans FINAL WHERE project_id = {project:String} "
           "AND trace_id IN {traces:Array(String)} AND span_id IN {spans:Array(String)}")
    return _of(spans, store.query_dicts(sql, _id_params(project, spans), "annotations_spans"))


def span_events(store: Store, project: str, spans: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The GenAI log records of `spans` (messages some instrumentations carry outside the span)."""
    if not spans:
        return []
    sql = ("SELECT trace_id, span_id, time, event_name, body, input_messages, output_messages "
           "FROM {db}.genai_events FINAL WHERE project_id = {project:String} AND trace_id IN {traces:Array(String)} "
           "AND span_id IN {spans:Array(String)} ORDER BY time, record_id")
    return _of(spans, store.query_dicts(sql, _id_params(project, spans), "annotations_events"))


def _id_params(project: str, spans: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"project": project, "traces": sorted({t for t, _ in spans}), "spans": sorted({s for _, s in spans})}


def _of(spans: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of exactly `spans` (the query matched trace ids and span ids apart)."""
    wanted = set(spans)
    return [row for row in rows if (row["trace_id"], row["span_id"]) in wanted]
