"""The demo's A/B test of two prompt versions and its shadow calls, as the real SDK exports them."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmpulse.demo.rollout import CANDIDATE_MODEL, ORPHANS, PROMPT_VERSION, SHADOW_OF
from llmpulse.demo.send import DemoSummary, run_demo

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _run(now: datetime = NOW, traces: int = 300) -> tuple[DemoSummary, tuple[ReadableSpan, ...]]:
    exporter = InMemorySpanExporter()
    summary = run_demo("http://127.0.0.1:4318", exporter=exporter, now=now, traces=traces, seed=7)
    return summary, exporter.get_finished_spans()


@pytest.fixture(scope="module")
def demo() -> tuple[DemoSummary, tuple[ReadableSpan, ...]]:
    return _run()


def _hex(span: ReadableSpan) -> str:
    return f"{span.context.span_id:016x}"


def _answered(spans, version: str) -> list[ReadableSpan]:
    return [s for s in spans if s.attributes.get(PROMPT_VERSION) == version and s.status.is_ok]


def test_rag_answers_split_between_two_prompt_versions(demo):
    summary, spans = demo
    tagged = [s for s in spans if PROMPT_VERSION in s.attributes]
    counts = dict(summary.prompt_versions)
    assert set(counts) == {"v1", "v2"} and counts["v1"] + counts["v2"] == len(tagged)
    assert all(s.resource.attributes["service.name"] == "support-bot" for s in tagged)
    assert min(counts.values()) > 0.35 * len(tagged)  # a random half each, not a time split
    chats = [s.attributes.get("gen_ai.operation.name") or s.attributes.get("openinference.span.kind") for s in tagged]
    assert set(chats) == {"chat", "LLM"}  # the answer's call only: not its embedding, retrieval or root span


def test_prompt_v2_is_slower_costlier_and_strays_more(demo):
    _, spans = demo
    v1, v2 = _answered(spans, "v1"), _answered(spans, "v2")
    latency = [statistics.median(s.end_time - s.start_time for s in group) for group in (v1, v2)]
    assert latency[1] > 1.15 * latency[0]
    tokens = [statistics.mean(_input_tokens(s) for s in group) for group in (v1, v2)]
    assert tokens[1] > tokens[0] + 20  # the longer prompt
    stray = [sum(s.attributes["llmpulse.demo.grounded"] is False for s in group) / len(group) for group in (v1, v2)]
    assert stray[1] > stray[0]


def _input_tokens(span: ReadableSpan) -> int:
    return span.attributes.get("gen_ai.usage.input_tokens") or span.attributes["llm.token_count.prompt"]


def test_shadow_calls_answer_the_primary_input_in_the_same_trace(demo):
    summary, spans = demo
    by_id = {(s.context.trace_id, _hex(s)): s for s in spans}
    shadows = [s for s in spans if SHADOW_OF in s.attributes]
    paired = [(s, by_id[s.context.trace_id, s.attributes[SHADOW_OF]]) for s in shadows
              if (s.context.trace_id, s.attributes[SHADOW_OF]) in by_id]
    assert len(shadows) == summary.shadow_calls >= max(ORPHANS)
    assert len(shadows) - len(paired) == summary.unpaired_shadows == len(ORPHANS)
    for shadow, primary in paired:
        models = (shadow.attributes["gen_ai.request.model"], primary.attributes["gen_ai.request.model"])
        assert models[0] == CANDIDATE_MODEL != models[1]
        assert shadow.attributes["gen_ai.input.messages"] == primary.attributes["gen_ai.input.messages"]
        assert shadow.parent.span_id == primary.parent.span_id and shadow.start_time >= primary.start_time
    same = [_output(s) == _output(p) for s, p in paired]
    assert any(same) and not all(same)  # sometimes the candidate agrees, sometimes it diverges


def _output(span: ReadableSpan) -> str:
    return json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"]


def test_unpaired_shadows_name_a_span_never_sent(demo):
    _, spans = demo
    sent = {_hex(s) for s in spans}
    orphans = [s for s in spans if SHADOW_OF in s.attributes and s.attributes[SHADOW_OF] not in sent]
    assert len(orphans) == len(ORPHANS) and all(len(s.attributes[SHADOW_OF]) == 16 for s in orphans)


def test_a_later_run_sends_new_shadow_calls(demo):
    _, spans = demo
    _, later = _run(datetime(2026, 6, 2, 12, 0, tzinfo=UTC))
    ids = [{s.attributes.get("gen_ai.response.id") for s in group if SHADOW_OF in s.attributes}
           for group in (spans, later)]
    assert ids[0] and ids[0].isdisjoint(ids[1])  # a re-run is never deduplicated as the same calls
    orphans = [{s.attributes[SHADOW_OF] for s in group if SHADOW_OF in s.attributes} for group in (spans, later)]
    assert orphans[0].isdisjoint(orphans[1])


def test_describe_counts_the_rollout(demo):
    text = demo[0].describe()
    assert "llmpulse.prompt.version" in text and f"in shadow by {CANDIDATE_MODEL}" in text
    assert f"({len(ORPHANS)} of them without their primary call)" in text
