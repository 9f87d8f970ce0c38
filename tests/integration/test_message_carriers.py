"""Messages sent both as span attributes and as a log record are shown once (issue #20, item 4):
the corpus run of opentelemetry-instrumentation-openai-v2 with SPAN_AND_EVENT, posted as sent."""

from __future__ import annotations

import json

from tests import corpus
from tests.conftest import Running
from tests.integration.test_corpus_ingest import post_run

pytestmark = corpus.needs_corpus


def stored_messages(running: Running, table: str, trace_id: str) -> dict[str, tuple[list, list]]:
    """Each span's messages as one carrier holds them (`spans`: the span, `genai_events`: its log
    records), by span id."""
    rows = running.service.store.query(
        f"SELECT span_id, input_messages, output_messages FROM {{db}}.{table} FINAL WHERE trace_id = {{t:String}}",
        {"t": trace_id}, "test_stored_messages")
    return {span: (json.loads(i) if i else [], json.loads(o) if o else []) for span, i, o in rows}


def test_span_and_event_messages_are_shown_once(running: Running) -> None:
    post_run(running, "otel-openai-v2.content-span_and_event")
    traces = running.get("/api/v1/traces", **{"from": "0"}).json()["traces"]
    chats = 0
    for trace in traces:
        on_span = stored_messages(running, "spans", trace["trace_id"])
        in_records = stored_messages(running, "genai_events", trace["trace_id"])
        for span in running.get(f"/api/v1/traces/{trace['trace_id']}").json()["spans"]:
            if span["span_type"] != "llm" or not span["log_events"]:
                continue
            chats += 1
            own = on_span[span["span_id"]]
            assert own[0] and in_records[span["span_id"]] == own  # both carriers hold the same messages
            assert (span["input_messages"], span["output_messages"]) == own
    assert chats >= 3
