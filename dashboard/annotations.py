"""Labelling by hand, shared by the annotations API and the Annotate page: what comes up next, a
span as a dataset item, and storing a label (with the item it sends to a dataset, if any).

Both callers get the same checks and the same words: failures are `ApiError`s, which the API
answers with and the page shows. A label that also sends its span to a dataset checks the dataset
and builds the item before anything is stored, so a refused request stores neither.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dashboard.params import ApiError
from schemas.clickhouse import queries
from schemas.clickhouse.annotations import (
    LABELS,
    Label,
    insert_labels,
    label_row,
    queue_spans,
    span_evaluations,
    span_events,
    spans_by_id,
)
from schemas.clickhouse.evaluations import span_facts, trace_documents
from schemas.clickhouse.store import Store
from schemas.dataset_items import DatasetItem
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.times import iso_utc

QUEUE_KINDS = ("sampled", "flagged", "dataset")


def found(action: Any) -> Any:
    """`action()`, with an unknown dataset or item answered as 404."""
    try:
        return action()
    except DatasetNotFound as exc:
        raise ApiError(404, str(exc)) from None


def find_span(store: Store, project: str, trace_id: str, span_id: str) -> dict[str, Any]:
    """The span as GET /api/v1/traces/<id> shows it: messages carried as log records included."""
    from dashboard.api import assemble_spans  # dashboard.api imports the blueprints that import this

    spans = [s for s in queries.get_trace_spans(store, project, trace_id) if s["span_id"] == span_id]
    if not spans:
        raise ApiError(404, f"span {span_id} of trace {trace_id} not found in project {project!r}")
    events = [e for e in queries.get_trace_events(store, project, trace_id) if e["span_id"] == span_id]
    return assemble_spans(spans, events)[0]


def span_item(store: Store, project: str, trace_id: str, span_id: str, expected: str | None) -> DatasetItem:
    """An item from a recorded span: its input messages, and its answer as expected unless given."""
    span = find_span(store, project, trace_id, span_id)
    messages = [m for m in map(_message, span["input_messages"]) if m["content"]]
    if not messages:
        raise ApiError(400, f"span {span_id} has no input messages to take as the item's input")
    if expected is None:
        expected = answer_text(span)
    return DatasetItem(input=messages, expected=expected or None, trace_id=trace_id, span_id=span_id)


def answer_text(span: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in map(_message, span["output_messages"]) if m["content"])


def _message(message: Any) -> dict[str, str]:
    """{role, content} of a message as stored: a text content, or the texts of its parts."""
    if not isinstance(message, dict):
        return {"role": "", "content": ""}
    content = message.get("content")
    if not isinstance(content, str) and isinstance(message.get("parts"), list):
        content = "\n".join(str(p.get("content", "")) for p in message["parts"]
                            if isinstance(p, dict) and p.get("content") is not None)
    return {"role": str(message.get("role") or ""), "content": content if isinstance(content, str) else ""}


def save_label(store: Store, datasets: DatasetStore, project: str, label: Label,
               dataset: str | None = None) -> dict[str, Any]:
    """Store `label` (replacing the span's earlier one); with `dataset`, also add the span to it as
    an item whose expected answer is the correction, or the answer itself when labelled correct."""
    facts = span_facts(store, project, label.trace_id, label.span_id)
    if facts is None:
        raise ApiError(404, f"span {label.span_id} of trace {label.trace_id} not found in project {project!r}")
    added: dict[str, Any] = {}
    if dataset is not None:
        found(lambda: datasets.read(project, dataset, 0))  # 404 before anything is stored
        expected = label.correction or (None if label.label == "correct" else "")
        item = span_item(store, project, label.trace_id, label.span_id, expected)
        version, (item_id,) = found(lambda: datasets.add_items(project, dataset, [item]))
        added = {"dataset": dataset, "version": version, "item_id": item_id}
    row = label_row(project, label, facts["request_model"], facts["start_time"])
    insert_labels(store, [row])
    return {"id": row["evaluation_id"], "trace_id": label.trace_id, "span_id": label.span_id,
            "label": label.label, "annotator": label.annotator, **added}


def queue(store: Store, datasets: DatasetStore, project: str, kind: str, window: tuple[datetime, datetime],
          limit: int, dataset: str | None = None) -> list[dict[str, Any]]:
    """The next `limit` things to label, oldest first (see schemas.clickhouse.annotations)."""
    if kind == "dataset":
        if not dataset:
            raise ApiError(400, "kind=dataset needs dataset=<name>: the dataset whose items lack an expected output")
        items = found(lambda: datasets.read(project, dataset))["items"]
        return [{"kind": kind, "dataset": dataset, "item": item} for item in items if item["expected"] is None][:limit]
    if dataset:
        raise ApiError(400, f"dataset= is for kind=dataset, not kind={kind}")
    rows = queue_spans(store, project, kind, window[0], window[1], limit)
    return _span_entries(store, project, kind, rows)


def assembled_spans(store: Store, project: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """The spans `keys` name, as the trace view shows them (messages carried as log records
    included), read in two queries whatever their number."""
    from dashboard.api import assemble_spans  # see find_span

    events = span_events(store, project, keys)
    return {(s["trace_id"], s["span_id"]): assemble_spans([s], [e for e in events if e["trace_id"] == s["trace_id"]
                                                                and e["span_id"] == s["span_id"]])[0]
            for s in spans_by_id(store, project, keys)}


def _span_entries(store: Store, project: str, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = [(r["trace_id"], r["span_id"]) for r in rows]
    spans = assembled_spans(store, project, keys)
    verdicts = span_evaluations(store, project, keys)
    documents = trace_documents(store, project, [r["trace_id"] for r in rows])
    return [_entry(kind, row, spans.get(key), documents.get(key[0], []), verdicts[key])
            for row, key in zip(rows, keys, strict=True)]


def _entry(kind: str, row: dict[str, Any], span: dict[str, Any] | None, documents: list[str],
           verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "trace_id": row["trace_id"], "span_id": row["span_id"],
            "span_time": iso_utc(row["span_time"]), "model": row["request_model"],
            "input": [_message(m) for m in span["input_messages"]] if span else [],
            "answer": answer_text(span) if span else "", "context": _documents(documents),
            "verdicts": [_verdict(v) for v in verdicts]}


def _documents(texts: list[str]) -> list[str]:
    """The retrieved documents' texts, from the retrieval_documents JSON of the trace's spans."""
    out = []
    for text in texts:
        try:
            documents = json.loads(text)
        except ValueError:
            continue
        for document in documents if isinstance(documents, list) else []:
            content = document.get("content") if isinstance(document, dict) else document
            if content:
                out.append(str(content))
    return out


def _verdict(row: dict[str, Any]) -> dict[str, Any]:
    return {"scorer": row["scorer"], "source": row["source"], "label": row["label"], "score": row["score"],
            "hallucinated": row["hallucinated"], "reason": row["reason"], "annotator": row["annotator"] or None,
            "correction": row["correction"] or None, "created_at": iso_utc(row["created_at"])}


def parse_label(body: dict[str, Any], annotator: str) -> tuple[Label, str | None]:
    """A label from a request body, and the dataset to send the span to (None: none)."""
    unknown = sorted(set(body) - set(LABEL_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r}; accepted: {', '.join(LABEL_FIELDS)}")
    trace_id, span_id = hex_id(body, "trace_id", 32), hex_id(body, "span_id", 16)
    label = body.get("label")
    if label not in LABELS:
        raise ApiError(400, f"label must be one of {', '.join(LABELS)}, got {label!r}")
    comment, correction, dataset = (_text(body, "comment"), _text(body, "correct_answer"),
                                    _text(body, "dataset") or None)
    return Label(trace_id, span_id, label, annotator, comment, correction), dataset


LABEL_FIELDS = ("trace_id", "span_id", "label", "comment", "correct_answer", "dataset")
HEX = frozenset("0123456789abcdef")


def hex_id(body: dict[str, Any], key: str, length: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or len(value) != length or not set(value.lower()) <= HEX:
        raise ApiError(400, f"{key} must be {length} hex characters, got {value!r}")
    return value.lower()


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{key} must be a text")
    return (value or "").strip() if key == "dataset" else (value or "")
