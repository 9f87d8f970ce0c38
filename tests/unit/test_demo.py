"""`run_demo` through the real SDK into an in-memory exporter: the shape of the demo's traffic."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from llmpulse.demo.send import DemoDeliveryError, DemoSummary, run_demo, traces_url

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Spans = tuple[ReadableSpan, ...]


def _run(**options) -> tuple[DemoSummary, Spans]:
    exporter = InMemorySpanExporter()
    summary = run_demo("http://127.0.0.1:4318", exporter=exporter, now=NOW, **{"traces": 300, **options})
    return summary, exporter.get_finished_spans()


@pytest.fixture(scope="module")
def demo() -> tuple[DemoSummary, Spans]:
    return _run()


@pytest.fixture(scope="module")
def spans(demo) -> Spans:
    return demo[1]


def _attr(span: ReadableSpan, name: str):
    return span.attributes.get(name)


def _by_request_model(spans: Spans, model: str) -> list[ReadableSpan]:
    return [s for s in spans if _attr(s, "gen_ai.request.model") == model and _attr(s, "gen_ai.response.model")]


def test_summary_matches_what_was_exported(demo):
    summary, spans = demo
    assert summary.traces == 300 == len({s.context.trace_id for s in spans})
    assert summary.spans == len(spans)
    assert summary.spans_failed == 0
    assert summary.services == ("agent-worker", "search-api", "support-bot")
    assert 0 < summary.errors < summary.llm_calls < summary.spans


def test_resources_name_services_and_environments(spans):
    resources = {
        (s.resource.attributes["service.name"], s.resource.attributes["deployment.environment.name"]) for s in spans
    }
    assert {service for service, _ in resources} == {"support-bot", "search-api", "agent-worker"}
    assert {environment for _, environment in resources} == {"prod", "staging"}


def test_timestamps_fall_in_the_window(demo):
    summary, spans = demo
    low, high = summary.window_start.timestamp() * 1e9, summary.window_end.timestamp() * 1e9
    assert all(low <= s.start_time < s.end_time <= high for s in spans)
    starts = sorted(s.start_time for s in spans)
    assert starts[-1] - starts[0] > 0.9 * (high - low)  # spread over the whole day, not bunched


def test_all_conventions_and_providers_are_present(spans):
    scopes = {s.instrumentation_scope.name for s in spans}
    assert {
        "opentelemetry.util.genai.handler",
        "ai",
        "openinference.instrumentation.openai",
        "opentelemetry.instrumentation.anthropic",
    } <= scopes
    assert any(_attr(s, "gen_ai.input.messages") for s in spans)
    assert any(_attr(s, "llm.token_count.prompt") for s in spans)
    assert any(_attr(s, "gen_ai.usage.prompt_tokens") for s in spans)
    assert any(_attr(s, "ai.usage.inputTokens") for s in spans)
    providers = {_attr(s, "gen_ai.provider.name") for s in spans}
    assert {"openai", "anthropic"} <= providers
    models = {_attr(s, "gen_ai.request.model") or _attr(s, "ai.model.id") for s in spans}
    assert {
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1-mini",
        "text-embedding-3-small",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "gemini-2.5-flash",
    } <= models


def test_response_model_changes_silently_at_the_midpoint(demo):
    summary, spans = demo
    change_ns = summary.model_change_at.timestamp() * 1e9
    calls = _by_request_model(spans, summary.drifting_model)
    before = [s for s in calls if s.start_time < change_ns]
    after = [s for s in calls if s.start_time >= change_ns]
    assert {_attr(s, "gen_ai.response.model") for s in before} == {"gpt-4o-mini-2024-07-18"}
    assert {_attr(s, "gen_ai.response.model") for s in after} == {"gpt-4o-mini-2025-01-31"}
    fingerprints = (
        {_attr(s, "openai.response.system_fingerprint") or _attr(s, "gen_ai.openai.system_fingerprint") for s in group}
        for group in (before, after)
    )
    assert len(set.union(*fingerprints)) == 2


def _mean_output_tokens(spans: list[ReadableSpan]) -> float:
    return statistics.mean(_attr(s, "gen_ai.usage.output_tokens") for s in spans)


def test_changed_model_answers_longer_and_slower(demo):
    summary, spans = demo
    change_ns = summary.model_change_at.timestamp() * 1e9
    answers = [s for s in _by_request_model(spans, summary.drifting_model) if _attr(s, "gen_ai.output.messages")]
    before = [s for s in answers if s.start_time < change_ns]
    after = [s for s in answers if s.start_time >= change_ns]
    assert _mean_output_tokens(after) > 1.4 * _mean_output_tokens(before)
    latency = [statistics.median(s.end_time - s.start_time for s in group) for group in (before, after)]
    assert latency[1] > 1.3 * latency[0]


def test_rate_limit_errors_are_followed_by_a_successful_retry(spans):
    failed = [s for s in spans if s.status.status_code is StatusCode.ERROR]
    assert failed and all(_attr(s, "error.type") == "RateLimitError" for s in failed)
    assert all(any(e.name == "exception" for e in s.events) for s in failed)
    for span in failed:
        siblings = [
            s
            for s in spans
            if s.parent == span.parent
            and s.start_time > span.end_time
            and s.name == span.name
            and s.status.status_code is not StatusCode.ERROR
        ]
        assert siblings, f"no retry after {span.name}"


def test_retrieval_spans_carry_documents_used_by_the_answer(spans):
    retrievals = [s for s in spans if _attr(s, "openinference.span.kind") == "RETRIEVER"]
    assert retrievals
    for retrieval in retrievals[:20]:
        content = _attr(retrieval, "retrieval.documents.0.document.content")
        assert content and 0 < _attr(retrieval, "retrieval.documents.0.document.score") <= 1
        llm = [
            s
            for s in spans
            if s.context.trace_id == retrieval.context.trace_id
            and s.start_time > retrieval.end_time
            and content in json.dumps(dict(s.attributes))
        ]
        assert llm, "the retrieved document does not reach the LLM call"


def test_about_fifteen_percent_of_rag_answers_are_ungrounded(demo):
    summary, spans = demo
    flags = [_attr(s, "llmpulse.demo.grounded") for s in spans if _attr(s, "llmpulse.demo.grounded") is not None]
    assert summary.ungrounded == flags.count(False)
    assert 0.07 < flags.count(False) / len(flags) < 0.25


def test_streamed_calls_report_time_to_first_chunk(spans):
    streamed = [s for s in spans if _attr(s, "gen_ai.request.stream") and s.status.status_code is StatusCode.UNSET]
    assert streamed
    for span in streamed:
        ttft_ns = _attr(span, "gen_ai.response.time_to_first_chunk") * 1e9
        assert 0 < ttft_ns < span.end_time - span.start_time
    assert any(_attr(s, "ai.response.msToFirstChunk") for s in spans)
    assert any(e.name == "First Token Stream Event" for s in spans for e in s.events)


def test_provider_cache_tokens_are_part_of_input_tokens(spans):
    cached = [s for s in spans if _attr(s, "gen_ai.usage.cache_read.input_tokens")]
    writes = [s for s in spans if _attr(s, "gen_ai.usage.cache_creation.input_tokens")]
    assert cached and writes
    for span in cached + writes:
        parts = (_attr(span, "gen_ai.usage.cache_read.input_tokens") or 0) + (
            _attr(span, "gen_ai.usage.cache_creation.input_tokens") or 0
        )
        assert parts <= _attr(span, "gen_ai.usage.input_tokens")
    assert any(_attr(s, "gen_ai.usage.cache_read_input_tokens") for s in spans)  # OpenLLMetry's spelling


def test_application_cache_hits_cost_nothing_and_are_fast(demo):
    summary, spans = demo
    hits = [s for s in spans if _attr(s, "llmpulse.cache_hit") is True]
    assert len(hits) == summary.cache_hits > 0
    for span in hits:
        assert _attr(span, "gen_ai.usage.input_tokens") == 0 == _attr(span, "gen_ai.usage.output_tokens")
        assert span.end_time - span.start_time < 10_000_000


def test_agent_loop_has_tool_executions(demo):
    summary, spans = demo
    agents = [s for s in spans if _attr(s, "gen_ai.operation.name") == "invoke_agent"]
    tools = [s for s in spans if _attr(s, "gen_ai.operation.name") == "execute_tool"]
    assert agents and len(tools) == summary.tool_calls
    children = defaultdict(list)
    for span in spans:
        if span.parent:
            children[span.parent.span_id].append(_attr(span, "gen_ai.operation.name"))
    ops = Counter(op for agent in agents for op in children[agent.context.span_id])
    assert ops["execute_tool"] == len(tools) and ops["chat"] > len(agents)
    assert summary.tool_trace == f"{tools[0].context.trace_id:032x}"  # the page tour's trace with a tool call


def test_users_and_sessions_recur(spans):
    sessions = Counter(_attr(s, "session.id") for s in spans if _attr(s, "gen_ai.operation.name") == "chat")
    users = {_attr(s, "user.id") for s in spans if _attr(s, "user.id")}
    assert len(users) > 10
    assert max(sessions.values()) > 2


def _fingerprint(spans: Spans) -> list[tuple]:
    return sorted(
        (
            s.context.trace_id,
            s.context.span_id,
            s.name,
            s.start_time,
            s.end_time,
            json.dumps(dict(s.attributes), sort_keys=True, default=str),
        )
        for s in spans
    )


def test_same_seed_gives_the_same_traffic(spans):
    _, again = _run()
    assert _fingerprint(again) == _fingerprint(spans)


def test_other_seed_or_time_gives_other_traffic(spans):
    _, other_seed = _run(seed=8)
    assert _fingerprint(other_seed) != _fingerprint(spans)
    exporter = InMemorySpanExporter()
    run_demo("http://x", exporter=exporter, now=datetime(2026, 6, 2, 12, 0, tzinfo=UTC), traces=300)
    later = exporter.get_finished_spans()
    assert {s.context.trace_id for s in later}.isdisjoint({s.context.trace_id for s in spans})
    # same content, new ids (export order may differ: the batch processor exports from its own thread)
    assert sorted(s.name for s in later) == sorted(s.name for s in spans)


def test_progress_reaches_the_total():
    seen: list[tuple[int, int]] = []
    run_demo("http://x", traces=60, exporter=InMemorySpanExporter(), progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (60, 60) and [d for d, _ in seen] == sorted(d for d, _ in seen)


class _Refusing(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(DemoDeliveryError, match="llmpulse serve"):
        run_demo("http://127.0.0.1:9", traces=30, exporter=_Refusing())


def test_traces_url_appends_the_signal_path_once():
    assert traces_url("http://h:4318/") == "http://h:4318/v1/traces"
    assert traces_url("http://h:4318/v1/traces") == "http://h:4318/v1/traces"


def test_tool_arguments_and_results_are_json(spans):
    tools = [s for s in spans if _attr(s, "gen_ai.operation.name") == "execute_tool"]
    for span in tools:
        arguments = json.loads(_attr(span, "gen_ai.tool.call.arguments"))
        json.loads(_attr(span, "gen_ai.tool.call.result"))
        assert all("{order}" not in str(value) for value in arguments.values())


def test_describe_names_what_to_look_for(demo):
    text = demo[0].describe()
    assert "300 traces" in text and "gpt-4o-mini" in text and "not grounded" in text
