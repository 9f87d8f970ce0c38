"""The trace list's preview: a trace's first question and last answer, read for one page of traces, in
either message shape the collector stores, cut short in ClickHouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from schemas.clickhouse import queries
from schemas.clickhouse.trace_preview import PREVIEW_CHARS, trace_previews
from tests.conftest import Running
from tests.spans import Call

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
NS = int(T.timestamp() * 1e9)


def messages(side: str, *turns: tuple[str, str]) -> dict[str, object]:
    return {f"gen_ai.{side}.messages": json.dumps([{"role": role, "content": text} for role, text in turns])}


def test_a_page_of_traces_gets_its_first_question_and_last_answer(running: Running) -> None:
    long_question = "why " * 200
    running.send_calls(
        # Trace 1: two calls; the question is the first call's first user turn, the answer the last call's.
        Call(1, 1, start_ns=NS, extra={**messages("input", ("system", "be brief"), ("user", "What is  RAG?\n")),
                                       **messages("output", ("assistant", "first draft"))}),
        Call(1, 2, start_ns=NS + 10**9, extra={**messages("input", ("user", "What is RAG?"), ("user", "again")),
                                               **messages("output", ("assistant", "Retrieval, then generation."))}),
        Call(2, 1, start_ns=NS + 2 * 10**9, extra={**messages("input", ("user", long_question))}),
        Call(3, 1, start_ns=NS + 3 * 10**9),  # no messages recorded
    )
    flt = queries.TraceFilter("default", T - timedelta(minutes=1), T + timedelta(minutes=1))
    page = queries.list_traces(running.service.store, flt, limit=50, offset=0)["traces"]
    previews = trace_previews(running.service.store, "default", page)
    by_trace = {int(t["trace_id"], 16): previews.get(t["trace_id"]) for t in page}
    assert by_trace[1] == ("What is RAG?", "Retrieval, then generation.")
    question, answer = by_trace[2]
    assert len(question) == PREVIEW_CHARS and question.startswith("why why") and answer == ""
    assert by_trace[3] in (("", ""), None)
    assert trace_previews(running.service.store, "default", []) == {}
