"""Span normalization on hand-built spans: conventions the corpus lacks, token semantics, odd input."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from collector.coerce import as_ns, clip, utc_datetime
from collector.counts import DEFAULT_MAX_COUNT, REFUSED_ATTRIBUTE
from collector.normalize import detect_convention, extract_log_messages, normalize_provider, normalize_span
from schemas import fields as f
from schemas.records import RawLogRecord, RawSpan, SpanEvent, SpanLink

START = 1_795_427_105_114_696_957
TRACE = "0af7651916cd43dd8448eb211c80319c"
RESOURCE = {"service.name": "shop", "deployment.environment.name": "prod"}


def span(attributes: dict[str, Any] | None = None, **fields: Any) -> RawSpan:
    values: dict[str, Any] = {
        "trace_id": TRACE, "span_id": "b7ad6b7169203331", "parent_span_id": "", "name": "chat gpt-4o",
        "kind": 3, "start_ns": START, "end_ns": START + 250_000_000, "status_code": 0, "status_message": "",
        "attributes": attributes or {}, "resource": RESOURCE, "scope_name": "test", "scope_version": "",
    }
    values.update(fields)
    return RawSpan(**values)


def row_of(attributes: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return normalize_span(span(attributes, **fields), "acme")


def tokens(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[name] for name in f.TOKEN_FIELDS)


def messages(row: dict[str, Any], column: str) -> list[dict[str, Any]]:
    return json.loads(row[column]) if row[column] else []


# --- row shape ----------------------------------------------------------------------------------


def test_row_has_every_column_with_the_promised_types() -> None:
    row = row_of({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 3, "temperature": 0.2},
                 events=(SpanEvent("exception", START + 1000, {"exception.type": "Boom"}),),
                 links=(SpanLink(TRACE, "00f067aa0ba902b7", {"k": 1}),))
    assert set(row) == set(f.SPAN_COLUMNS)
    assert row[f.KIND] == "client" and row[f.STATUS_CODE] == "unset" and row[f.PARENT_SPAN_ID] == ""
    assert row[f.START_TIME] == dt.datetime(2026, 11, 23, 9, 45, 5, 114696, tzinfo=dt.UTC)
    assert row[f.DURATION_MS] == 250.0 and row[f.TTFT_MS] is None
    assert row[f.SERVICE_NAME] == "shop" and row[f.ENVIRONMENT] == "prod"
    assert row[f.ATTRIBUTES]["temperature"] == "0.2" and row[f.ATTRIBUTES]["gen_ai.usage.input_tokens"] == "3"
    assert row[f.RESOURCE_ATTRIBUTES] == RESOURCE
    assert json.loads(row[f.EVENTS]) == [
        {"name": "exception", "time_unix_nano": START + 1000, "attributes": {"exception.type": "Boom"}}]
    assert json.loads(row[f.LINKS]) == [{"trace_id": TRACE, "span_id": "00f067aa0ba902b7", "attributes": {"k": 1}}]
    assert row[f.ERROR_TYPE] == "Boom"
    assert row[f.IS_CALL] is True and row[f.CALL_KEY] == row[f.SPAN_ID]
    assert row[f.FINISH_REASONS] == [] and row[f.TAGS] == [] and row[f.COST_REPORTED] is None
    assert row[f.COST_SOURCE] == "" and all(row[name] is None for name in f.COST_FIELDS)


def test_plain_http_span_is_not_genai() -> None:
    row = row_of({"http.method": "POST", "http.status_code": 200}, name="POST",
                 scope_name="opentelemetry.instrumentation.httpx")
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.IS_CALL]) == ("", f.TYPE_OTHER, False)
    assert row[f.INPUT_MESSAGES] == row[f.OUTPUT_MESSAGES] == row[f.RETRIEVAL_DOCUMENTS] == ""
    assert row[f.EVENTS] == row[f.LINKS] == "[]"


def test_timestamps_are_exact_to_the_microsecond() -> None:
    for ns in (START, START + 999, 1, 4_102_444_800_123_456_789, 2**63 - 1):
        moment = utc_datetime(ns)
        assert moment.tzinfo is dt.UTC
        assert moment == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)


def test_resource_map_is_not_shared_between_rows() -> None:
    first, second = row_of(), row_of()
    first[f.RESOURCE_ATTRIBUTES]["service.name"] = "redacted"
    assert second[f.RESOURCE_ATTRIBUTES]["service.name"] == "shop"


# --- convention detection -----------------------------------------------------------------------


@pytest.mark.parametrize(("attributes", "scope", "expected"), [
    ({"gen_ai.operation.name": "chat"}, "opentelemetry.instrumentation.openai_v2", "otel_genai"),
    ({"openinference.span.kind": "LLM"}, "x", "openinference"),
    ({"llm.request.type": "chat", "gen_ai.system": "openai"}, "x", "openllmetry"),
    ({"gen_ai.operation.name": "chat"}, "opentelemetry.instrumentation.openai.v1", "openllmetry"),
    ({"gen_ai.usage.cost": 0.1, "gen_ai.system": "openai"}, "x", "openlit"),
    ({"gen_ai.operation.name": "chat"}, "openlit.instrumentation.anthropic", "openlit"),
    ({"ai.operationId": "ai.generateText.doGenerate"}, "ai", "vercel_ai"),
    ({"ai.model.id": "gpt-4o"}, "x", "vercel_ai"),
    ({"langfuse.observation.type": "generation"}, "x", "langfuse"),
    ({"langfuse.environment": "prod"}, "langfuse-sdk", "langfuse"),
    # Stamps copied onto every span of an app do not make an HTTP span GenAI.
    ({"traceloop.association.properties.user_id": "u"}, "x", ""),
    ({"langfuse.environment": "prod", "http.method": "GET"}, "x", ""),
    ({"langfuse.environment": "prod", "gen_ai.operation.name": "chat"}, "x", "otel_genai"),
])
def test_detect_convention(attributes: dict[str, Any], scope: str, expected: str) -> None:
    assert detect_convention(span(attributes, scope_name=scope)) == expected
    assert row_of(attributes, scope_name=scope)[f.CONVENTION] == expected


def test_spans_with_the_same_attribute_names_keep_their_own_values() -> None:
    """The per-name-set plan is shared between such spans; the values read must not be."""
    def openinference(model: str, prompt_tokens: int | None, question: str) -> dict[str, Any]:
        return {
            "openinference.span.kind": "LLM", "llm.model_name": model, "llm.token_count.prompt": prompt_tokens,
            "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": question,
        }

    first = row_of(openinference("gpt-4o", 12, "first?"))
    second = row_of(openinference("claude-sonnet-4-5", None, "second?"))
    reordered = row_of(dict(reversed(openinference("gpt-4o-mini", 7, "third?").items())))
    assert [r[f.REQUEST_MODEL] for r in (first, second, reordered)] == ["gpt-4o", "claude-sonnet-4-5", "gpt-4o-mini"]
    assert [r[f.INPUT_TOKENS] for r in (first, second, reordered)] == [12, 0, 7]
    assert [messages(r, f.INPUT_MESSAGES)[0]["content"] for r in (first, second, reordered)] == [
        "first?", "second?", "third?",
    ]
    assert {r[f.CONVENTION] for r in (first, second, reordered)} == {"openinference"}


# --- OTel GenAI, current and older names ---------------------------------------------------------


def test_otel_current_names() -> None:
    row = row_of({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "azure.ai.openai",
        "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-1", "openai.response.system_fingerprint": "fp_1",
        "gen_ai.usage.input_tokens": 1387, "gen_ai.usage.output_tokens": 29,
        "gen_ai.usage.cache_read.input_tokens": 1280, "gen_ai.usage.cache_creation.input_tokens": 7,
        "gen_ai.usage.reasoning.output_tokens": 11, "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": 0.125, "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.conversation.id": "conv-1",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "text", "content": "Hello"},
            {"type": "tool_call", "id": "c1", "name": "lookup", "arguments": {"q": "x"}}]}]),
    })
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.OPERATION]) == ("otel_genai", f.TYPE_LLM, "chat")
    assert (row[f.PROVIDER], row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == (
        "azure.ai.openai", "gpt-4o", "gpt-4o-2024-08-06")
    assert (row[f.RESPONSE_ID], row[f.CALL_KEY], row[f.SYSTEM_FINGERPRINT]) == ("chatcmpl-1", "chatcmpl-1", "fp_1")
    assert tokens(row) == (1387, 29, 1280, 7, 11, 1416)
    assert row[f.STREAMING] is True and row[f.TTFT_MS] == 125.0
    assert row[f.SESSION_ID] == "conv-1" and row[f.FINISH_REASONS] == ["stop"]
    assert messages(row, f.INPUT_MESSAGES) == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{
        "role": "assistant", "content": "Hello", "finish_reason": "stop",
        "tool_calls": [{"id": "c1", "name": "lookup", "arguments": '{"q":"x"}'}]}]


def test_otel_older_names_and_content_events() -> None:
    """v1.26: gen_ai.system, prompt/completion_tokens, content in gen_ai.content.* span events."""
    row = row_of({
        "gen_ai.system": "OpenAI", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.prompt_tokens": "15", "gen_ai.usage.completion_tokens": 8.0,
        "gen_ai.openai.response.system_fingerprint": "fp_old", "gen_ai.response.finish_reasons": '["stop"]',
    }, events=(
        SpanEvent("gen_ai.content.prompt", START + 1, {"gen_ai.prompt": '[{"role": "user", "content": "Q"}]'}),
        SpanEvent("gen_ai.content.completion", START + 2,
                  {"gen_ai.completion": '[{"role": "assistant", "content": "A"}]'}),
    ))
    assert row[f.CONVENTION] == "otel_genai" and row[f.SPAN_TYPE] == f.TYPE_LLM  # typed by its model
    assert (row[f.PROVIDER], row[f.SYSTEM_FINGERPRINT]) == ("openai", "fp_old")
    assert tokens(row) == (15, 8, 0, 0, 0, 23)
    assert row[f.FINISH_REASONS] == ["stop"]
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "Q"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "A"}]


def test_otel_per_message_span_events() -> None:
    """v1.28 to v1.36 per-message events, here as span events (the corpus has them as log records)."""
    events = (
        SpanEvent("gen_ai.system.message", START + 1, {"content": "Sys"}),
        SpanEvent("gen_ai.user.message", START + 2, {"content": "Weather?"}),
        SpanEvent("gen_ai.assistant.message", START + 3, {"tool_calls": json.dumps([
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}])}),
        SpanEvent("gen_ai.tool.message", START + 4, {"content": "18C", "id": "c1"}),
        SpanEvent("gen_ai.choice", START + 5, {"gen_ai.event.content": json.dumps(
            {"index": 0, "finish_reason": "stop", "message": {"content": "It is 18C."}})}),
    )
    row = row_of({"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}, events=events)
    assert messages(row, f.INPUT_MESSAGES) == [
        {"role": "system", "content": "Sys"}, {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "name": "get_weather", "arguments": '{"city":"Paris"}'}]},
        {"role": "tool", "content": "18C", "tool_call_id": "c1"},
    ]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "It is 18C.", "finish_reason": "stop"}]
    assert row[f.FINISH_REASONS] == ["stop"]


def test_non_text_parts_stay_visible_and_reasoning_stays_out() -> None:
    row = row_of({
        "gen_ai.operation.name": "chat",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [
            {"type": "text", "content": "What is this?"}, {"type": "blob", "modality": "image", "content": "AAAA"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [
            {"type": "reasoning", "content": "hmm"}, {"type": "text", "content": "A cat."}]}]),
    })
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "What is this?\n[blob]"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "A cat."}]


def test_embedding_request_input_and_no_vector_dump() -> None:
    row = row_of({"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small",
                  "input.value": '{"model": "text-embedding-3-small", "input": ["a", "b"]}',
                  "output.value": '{"data": [{"embedding": [0.1, 0.2]}]}', "llm.token_count.prompt": 2})
    assert (row[f.SPAN_TYPE], row[f.OPERATION], row[f.RESPONSE_MODEL]) == (
        f.TYPE_EMBEDDING, "embeddings", "text-embedding-3-small")
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "a\nb"}]
    assert row[f.OUTPUT_MESSAGES] == ""


@pytest.mark.parametrize(("operation", "expected"), [
    ("chat", f.TYPE_LLM), ("text_completion", f.TYPE_LLM), ("generate_content", f.TYPE_LLM),
    ("embeddings", f.TYPE_EMBEDDING), ("execute_tool", f.TYPE_TOOL), ("invoke_agent", f.TYPE_AGENT),
    ("create_agent", f.TYPE_AGENT),
])
def test_span_type_from_operation(operation: str, expected: str) -> None:
    row = row_of({"gen_ai.operation.name": operation})
    assert row[f.SPAN_TYPE] == expected
    assert row[f.IS_CALL] is (expected in f.CALL_TYPES)


def test_same_call_traced_twice_shares_its_call_key() -> None:
    """An SDK's own tracing plus a library: two spans, one response id, one call."""
    library = row_of({"gen_ai.operation.name": "chat", "gen_ai.response.id": "msg_1"}, span_id="1111111111111111")
    sdk = row_of({"openinference.span.kind": "LLM", "output.value": '{"id": "msg_1", "choices": []}',
                  "output.mime_type": "application/json"}, span_id="2222222222222222")
    assert library[f.CALL_KEY] == sdk[f.CALL_KEY] == "msg_1"


# --- cached-token semantics ------------------------------------------------------------------------


def test_anthropic_input_reported_without_cache_is_made_inclusive() -> None:
    """OpenLIT passes Anthropic's raw input_tokens (391), which exclude the cache (corpus: Σ 3115)."""
    row = row_of({
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-3-5-haiku-20241022", "gen_ai.usage.input_tokens": 391,
        "gen_ai.usage.output_tokens": 24, "gen_ai.usage.cache_read.input_tokens": 362,
        "gen_ai.usage.cache_creation.input_tokens": 20, "gen_ai.usage.total_tokens": 415,
    }, scope_name="openlit.instrumentation.anthropic")
    assert tokens(row) == (773, 24, 362, 20, 0, 797)


def test_anthropic_input_already_inclusive_is_left_alone() -> None:
    """OpenLLMetry and OpenInference report Anthropic input with the cache included (corpus)."""
    attributes = {"gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-3-5-haiku",
                  "gen_ai.usage.input_tokens": 3115, "gen_ai.usage.output_tokens": 24,
                  "gen_ai.usage.cache_read_input_tokens": 1362, "gen_ai.usage.cache_creation_input_tokens": 1362,
                  "llm.request.type": "chat"}
    assert tokens(row_of(attributes)) == (3115, 24, 1362, 1362, 0, 3139)


def test_counts_no_rule_names_are_inclusive_whatever_their_size() -> None:
    """Whether a count holds its parts comes from the convention table, never from the numbers:
    OTel input with more cache than input, or output with more reasoning than output, is kept."""
    row = row_of({"gen_ai.operation.name": "chat", "gen_ai.usage.input_tokens": 10,
                  "gen_ai.usage.output_tokens": 5, "gen_ai.usage.cache_read.input_tokens": 1000,
                  "gen_ai.usage.reasoning_tokens": 50})
    assert tokens(row) == (10, 5, 1000, 0, 50, 15)


def test_openai_input_with_cache_is_not_touched() -> None:
    row = row_of({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                  "gen_ai.usage.input_tokens": 1387, "gen_ai.usage.cache_read.input_tokens": 1280},
                 scope_name="openlit.instrumentation.openai")
    assert row[f.INPUT_TOKENS] == 1387


# --- Langfuse ----------------------------------------------------------------------------------------


def langfuse(attributes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"langfuse.observation.type": "generation", "user.id": "u1", "session.id": "s1",
            "langfuse.trace.tags": ["a", "b"], "langfuse.environment": "staging"}
    return row_of({**base, **attributes}, scope_name="langfuse-sdk", kind=1,
                  resource={"service.name": "unknown_service:python"}, **fields)


def test_langfuse_usage_details_input_excludes_cache() -> None:
    row = langfuse({
        "langfuse.observation.model.name": "claude-3-5-haiku-20241022",
        "langfuse.observation.usage_details": json.dumps(
            {"input": 391, "output": 24, "cache_read_input_tokens": 1362, "cache_creation_input_tokens": 1362}),
        "langfuse.observation.cost_details": '{"input": 0.0003, "output": 0.0001, "total": 0.0004}',
        "langfuse.observation.completion_start_time": '"2026-11-23T09:45:05.314696Z"',
        "langfuse.observation.metadata.finish_reason": '"end_turn"',
    })
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.PROVIDER]) == ("langfuse", f.TYPE_LLM, "anthropic")
    assert row[f.REQUEST_MODEL] == row[f.RESPONSE_MODEL] == "claude-3-5-haiku-20241022"
    assert tokens(row) == (3115, 24, 1362, 1362, 0, 3139)
    assert row[f.COST_REPORTED] == Decimal("0.0004")
    assert row[f.TTFT_MS] == pytest.approx(200.0, abs=0.01) and row[f.STREAMING] is True
    assert row[f.FINISH_REASONS] == ["end_turn"]
    assert (row[f.USER_ID], row[f.SESSION_ID], row[f.TAGS]) == ("u1", "s1", ["a", "b"])
    assert row[f.ENVIRONMENT] == "staging" and row[f.SERVICE_NAME] == "unknown_service:python"


def test_langfuse_all_zero_cost_and_error_level() -> None:
    row = langfuse({"langfuse.observation.model.name": "gpt-4o-mini", "langfuse.observation.level": "ERROR",
                    "langfuse.observation.status_message": "Rate limited",
                    "langfuse.observation.cost_details": '{"input": 0, "output": 0, "total": 0}'})
    assert row[f.COST_REPORTED] is None
    assert (row[f.STATUS_CODE], row[f.STATUS_MESSAGE]) == ("error", "Rate limited")


def test_langfuse_cost_given_only_as_parts_is_their_sum() -> None:
    row = langfuse({"langfuse.observation.model.name": "in-house-llm",
                    "langfuse.observation.cost_details": '{"input": 0.0003, "output": 0.00015}'})
    assert row[f.COST_REPORTED] == Decimal("0.00045")


def test_langfuse_failed_call_served_no_model() -> None:
    row = langfuse({"langfuse.observation.model.name": "gpt-4o-mini", "langfuse.observation.level": "ERROR"})
    assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == ("gpt-4o-mini", "")


def test_langfuse_raw_openai_usage_keys_are_inclusive() -> None:
    usage = {"prompt_tokens": 1387, "completion_tokens": 29, "total_tokens": 1416,
             "prompt_tokens_details": {"cached_tokens": 1280}}
    row = langfuse({"langfuse.observation.model.name": "gpt-4.1-mini",
                    "langfuse.observation.usage_details": json.dumps(usage)})
    assert tokens(row) == (1387, 29, 1280, 0, 0, 1416) and row[f.PROVIDER] == "openai"


@pytest.mark.parametrize(("observation_type", "expected"), [
    ("generation", f.TYPE_LLM), ("embedding", f.TYPE_EMBEDDING), ("agent", f.TYPE_AGENT),
    ("tool", f.TYPE_TOOL), ("retriever", f.TYPE_RETRIEVAL), ("chain", f.TYPE_CHAIN), ("span", f.TYPE_OTHER),
])
def test_langfuse_observation_types(observation_type: str, expected: str) -> None:
    assert langfuse({"langfuse.observation.type": observation_type})[f.SPAN_TYPE] == expected


def test_langfuse_input_shapes() -> None:
    request = {"tools": [], "messages": [{"role": "user", "content": "Hi"}]}
    row = langfuse({"langfuse.observation.input": json.dumps(request),
                    "langfuse.observation.output": "plain answer"})
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "Hi"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "plain answer"}]


# --- Vercel AI SDK ------------------------------------------------------------------------------------


def vercel(name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    return row_of({"ai.operationId": name, **attributes}, name=name, scope_name="ai")


def test_vercel_v4_stream_call() -> None:
    row = vercel("ai.streamText.doStream", {
        "ai.model.id": "gpt-4o-mini", "ai.model.provider": "openai.chat", "ai.response.model": "gpt-4o-mini-2024-07-18",
        "ai.response.id": "chatcmpl-v", "ai.usage.promptTokens": 17, "ai.usage.completionTokens": 24,
        "ai.response.msToFirstChunk": 131.5, "ai.response.finishReason": "stop",
        "ai.prompt.messages": json.dumps([{"role": "system", "content": "Be nice"},
                                          {"role": "user", "content": [{"type": "text", "text": "Haiku?"}]}]),
        "ai.response.text": "Servers hum", "ai.telemetry.metadata.userId": "u9",
        "ai.telemetry.metadata.sessionId": "s9",
    })
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.OPERATION], row[f.PROVIDER]) == (
        "vercel_ai", f.TYPE_LLM, "chat", "openai")
    assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL], row[f.CALL_KEY]) == (
        "gpt-4o-mini", "gpt-4o-mini-2024-07-18", "chatcmpl-v")
    assert tokens(row) == (17, 24, 0, 0, 0, 41)
    assert row[f.STREAMING] is True and row[f.TTFT_MS] == 131.5 and row[f.FINISH_REASONS] == ["stop"]
    assert (row[f.USER_ID], row[f.SESSION_ID]) == ("u9", "s9")
    assert messages(row, f.INPUT_MESSAGES) == [
        {"role": "system", "content": "Be nice"}, {"role": "user", "content": "Haiku?"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "Servers hum"}]


def test_vercel_wrapper_span_is_a_chain_not_a_second_call() -> None:
    row = vercel("ai.generateText", {"ai.model.id": "gpt-4o", "ai.usage.promptTokens": 5,
                                     "ai.prompt": json.dumps({"system": "S", "prompt": "P"})})
    assert (row[f.SPAN_TYPE], row[f.IS_CALL]) == (f.TYPE_CHAIN, False)
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "system", "content": "S"}, {"role": "user", "content": "P"}]


def test_vercel_tool_and_embedding_spans() -> None:
    tool = vercel("ai.toolCall", {"ai.toolCall.name": "lookup"})
    embed = vercel("ai.embed.doEmbed", {"ai.model.id": "text-embedding-3-small", "ai.usage.tokens": 8})
    assert (tool[f.SPAN_TYPE], tool[f.OPERATION], tool[f.IS_CALL]) == (f.TYPE_TOOL, "execute_tool", False)
    assert (embed[f.SPAN_TYPE], embed[f.OPERATION], embed[f.INPUT_TOKENS]) == (f.TYPE_EMBEDDING, "embeddings", 8)


def test_vercel_tool_calls_in_response() -> None:
    row = vercel("ai.generateText.doGenerate", {"ai.response.toolCalls": json.dumps(
        [{"toolCallType": "function", "toolCallId": "t1", "toolName": "lookup", "args": '{"q":1}'}])})
    assert messages(row, f.OUTPUT_MESSAGES) == [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "name": "lookup", "arguments": '{"q":1}'}]}]


def test_vercel_v5_anthropic_input_excludes_cache() -> None:
    row = vercel("ai.generateText.doGenerate", {
        "ai.model.provider": "anthropic.messages", "ai.model.id": "claude-sonnet-4",
        "gen_ai.usage.input_tokens": 2000, "ai.usage.inputTokens": 2000, "ai.usage.outputTokens": 10,
        "ai.usage.cachedInputTokens": 1000,
        "ai.response.providerMetadata": json.dumps({"anthropic": {"cacheCreationInputTokens": 50}}),
    })
    assert row[f.PROVIDER] == "anthropic"
    assert tokens(row) == (3050, 10, 1000, 50, 0, 3060)


def test_vercel_v6_input_total_is_inclusive() -> None:
    row = vercel("ai.generateText.doGenerate", {
        "ai.model.provider": "anthropic.messages", "ai.usage.inputTokens": 3050, "ai.usage.outputTokens": 10,
        "ai.usage.inputTokenDetails.noCacheTokens": 2000, "ai.usage.inputTokenDetails.cacheReadTokens": 1000,
        "ai.usage.inputTokenDetails.cacheWriteTokens": 50,
    })
    assert tokens(row) == (3050, 10, 1000, 50, 0, 3060)


@pytest.mark.parametrize("provider", ["vertex.anthropic.messages", "bedrock.anthropic.messages", "amazon-bedrock"])
def test_vercel_v5_claude_on_vertex_and_bedrock_input_excludes_cache(provider: str) -> None:
    """Before v6 the SDK passed on the raw input count of the Anthropic Messages API wherever it
    is hosted, and of Bedrock's Converse API: cache left out."""
    row = vercel("ai.streamText.doStream", {
        "ai.model.provider": provider, "ai.model.id": "claude-sonnet-4@20250514",
        "ai.usage.inputTokens": 2000, "ai.usage.outputTokens": 10, "ai.usage.cachedInputTokens": 1000,
        "ai.response.providerMetadata": json.dumps({"anthropic": {"cacheCreationInputTokens": 50}}),
    })
    assert tokens(row) == (3050, 10, 1000, 50, 0, 3060)
    assert row[f.PROVIDER] == ("gcp.vertex_ai" if provider.startswith("vertex") else "aws.bedrock")


def test_vercel_v6_claude_on_vertex_input_total_is_inclusive() -> None:
    row = vercel("ai.generateText.doGenerate", {
        "ai.model.provider": "vertex.anthropic.messages", "ai.usage.inputTokens": 3050, "ai.usage.outputTokens": 10,
        "ai.usage.inputTokenDetails.noCacheTokens": 2000, "ai.usage.inputTokenDetails.cacheReadTokens": 1000,
        "ai.usage.inputTokenDetails.cacheWriteTokens": 50,
    })
    assert tokens(row) == (3050, 10, 1000, 50, 0, 3060)


def test_vercel_v5_gemini_on_vertex_input_already_includes_cache() -> None:
    row = vercel("ai.streamText.doStream", {
        "ai.model.provider": "google.vertex.chat", "ai.model.id": "gemini-2.5-pro",
        "ai.usage.inputTokens": 2000, "ai.usage.outputTokens": 10, "ai.usage.cachedInputTokens": 1000,
    })
    assert row[f.PROVIDER] == "gcp.vertex_ai" and tokens(row) == (2000, 10, 1000, 0, 0, 2010)


@pytest.mark.parametrize("provider", ["google.generative-ai", "google.vertex.chat"])
def test_vercel_v5_gemini_output_excludes_thoughts(provider: str) -> None:
    """Gemini bills thoughts as output; before v6 the SDK's output count is the candidates alone."""
    row = vercel("ai.streamText.doStream", {
        "ai.model.provider": provider, "ai.model.id": "gemini-2.5-flash", "ai.usage.inputTokens": 100,
        "ai.usage.outputTokens": 40, "ai.usage.reasoningTokens": 200, "ai.usage.totalTokens": 340,
    })
    assert tokens(row) == (100, 240, 0, 0, 200, 340)


def test_vercel_v5_gemini_generate_reads_thoughts_from_provider_metadata() -> None:
    usage = {"promptTokenCount": 100, "candidatesTokenCount": 40, "thoughtsTokenCount": 200, "totalTokenCount": 340}
    row = vercel("ai.generateText.doGenerate", {
        "ai.model.provider": "google.generative-ai", "ai.model.id": "gemini-2.5-flash",
        "ai.usage.promptTokens": 100, "ai.usage.completionTokens": 40,
        "ai.response.providerMetadata": json.dumps({"google": {"usageMetadata": usage}}),
    })
    assert tokens(row) == (100, 240, 0, 0, 200, 340)


def test_vercel_v6_gemini_output_total_includes_thoughts() -> None:
    row = vercel("ai.streamText.doStream", {
        "ai.model.provider": "google.generative-ai", "ai.usage.inputTokens": 100, "ai.usage.outputTokens": 240,
        "ai.usage.outputTokenDetails.textTokens": 40, "ai.usage.outputTokenDetails.reasoningTokens": 200,
        "ai.usage.reasoningTokens": 200,
    })
    assert tokens(row) == (100, 240, 0, 0, 200, 340)


def test_vercel_openai_output_already_includes_reasoning() -> None:
    row = vercel("ai.streamText.doStream", {
        "ai.model.provider": "openai.responses", "ai.model.id": "o4-mini", "ai.usage.inputTokens": 100,
        "ai.usage.outputTokens": 240, "ai.usage.reasoningTokens": 200,
    })
    assert tokens(row) == (100, 240, 0, 0, 200, 340)


def test_vercel_no_cache_tokens_alone_are_made_inclusive() -> None:
    row = vercel("ai.generateText.doGenerate", {
        "ai.usage.inputTokenDetails.noCacheTokens": 2000, "ai.usage.inputTokenDetails.cacheReadTokens": 1000,
    })
    assert row[f.INPUT_TOKENS] == 3000


# --- OpenLLMetry legacy, OpenInference, OpenLIT -----------------------------------------------------------


def test_openllmetry_multimodal_content_is_read_as_parts_without_the_image_data() -> None:
    image = "data:image/png;base64," + "iVBORw0KGgo" * 500
    content = [{"type": "text", "text": "What is in this picture?"},
               {"type": "image_url", "image_url": {"url": image}}]
    row = row_of({"llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
                  "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": json.dumps(content),
                  "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": '[{"not": "parts"}]'})
    assert messages(row, f.INPUT_MESSAGES) == [
        {"role": "user", "content": "What is in this picture?\n[image_url]"},
        {"role": "user", "content": '[{"not": "parts"}]'}]
    assert "iVBORw0KGgo" in row[f.ATTRIBUTES]["gen_ai.prompt.0.content"]  # the raw attribute is still kept


def test_openllmetry_legacy_flattened_content() -> None:
    row = row_of({
        "llm.request.type": "chat", "gen_ai.system": "Anthropic", "gen_ai.request.model": "claude-3-5-haiku",
        "gen_ai.usage.prompt_tokens": 20, "gen_ai.usage.completion_tokens": 5, "llm.usage.total_tokens": 25,
        "llm.is_streaming": True, "traceloop.association.properties.user_id": "u7",
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Weather?",
        "gen_ai.prompt.1.role": "tool", "gen_ai.prompt.1.content": "18C", "gen_ai.prompt.1.tool_call_id": "t1",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.finish_reason": "tool_use",
        "gen_ai.completion.0.tool_calls.0.id": "t2", "gen_ai.completion.0.tool_calls.0.name": "lookup",
        "gen_ai.completion.0.tool_calls.0.arguments": '{"q": 1}',
    }, events=(SpanEvent("gen_ai.content.completion.chunk", START + 80_000_000),
               SpanEvent("gen_ai.content.completion.chunk", START + 90_000_000)))
    assert (row[f.CONVENTION], row[f.SPAN_TYPE], row[f.PROVIDER], row[f.USER_ID]) == (
        "openllmetry", f.TYPE_LLM, "anthropic", "u7")
    assert tokens(row) == (20, 5, 0, 0, 0, 25)
    assert row[f.STREAMING] is True and row[f.TTFT_MS] == 80.0 and row[f.FINISH_REASONS] == ["tool_use"]
    assert messages(row, f.INPUT_MESSAGES) == [
        {"role": "user", "content": "Weather?"}, {"role": "tool", "content": "18C", "tool_call_id": "t1"}]
    call = {"id": "t2", "name": "lookup", "arguments": '{"q": 1}'}
    assert messages(row, f.OUTPUT_MESSAGES) == [
        {"role": "assistant", "content": "", "finish_reason": "tool_use", "tool_calls": [call]}]


def test_traceloop_workflow_span_is_a_chain() -> None:
    assert row_of({"traceloop.span.kind": "workflow"})[f.SPAN_TYPE] == f.TYPE_CHAIN


def test_openinference_retriever_documents_and_cost() -> None:
    row = row_of({
        "openinference.span.kind": "RETRIEVER", "input.value": "warranty?", "input.mime_type": "text/plain",
        "retrieval.documents.0.document.id": "doc-17", "retrieval.documents.0.document.content": "Two years.",
        "retrieval.documents.0.document.score": 0.91, "retrieval.documents.1.document.id": "doc-23",
        "retrieval.documents.1.document.content": "Not accidents.", "retrieval.documents.1.document.score": "0.5",
    })
    assert (row[f.SPAN_TYPE], row[f.IS_CALL]) == (f.TYPE_RETRIEVAL, False)
    assert json.loads(row[f.RETRIEVAL_DOCUMENTS]) == [
        {"id": "doc-17", "content": "Two years.", "score": 0.91},
        {"id": "doc-23", "content": "Not accidents.", "score": 0.5}]
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "warranty?"}]


def test_openinference_llm_span() -> None:
    row = row_of({
        "openinference.span.kind": "LLM", "llm.provider": "azure", "llm.system": "openai",
        "llm.model_name": "gpt-4o-2024-08-06", "llm.invocation_parameters": '{"model": "gpt-4o", "stream": true}',
        "llm.token_count.prompt": 100, "llm.token_count.completion": 7, "llm.token_count.total": 107,
        "llm.token_count.prompt_details.cache_read": 64, "llm.token_count.prompt_details.cache_write": 0,
        "llm.token_count.completion_details.reasoning": 3, "llm.cost.total": 0.00042,
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.contents.0.message_content.type": "text",
        "llm.input_messages.0.message.contents.0.message_content.text": "Describe",
        "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "Done",
        "tag.tags": ["t1"], "session.id": "s", "user.id": "u",
    }, kind=1, status_code=1, events=(SpanEvent("First Token Stream Event", START + 42_000_000),))
    assert (row[f.PROVIDER], row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL], row[f.OPERATION]) == (
        "azure.ai.openai", "gpt-4o", "gpt-4o-2024-08-06", "chat")
    assert tokens(row) == (100, 7, 64, 0, 3, 107)
    assert row[f.COST_REPORTED] == Decimal("0.00042") and row[f.STATUS_CODE] == "ok"
    assert row[f.STREAMING] is True and row[f.TTFT_MS] == 42.0
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "Describe"}]
    assert messages(row, f.OUTPUT_MESSAGES) == [{"role": "assistant", "content": "Done"}]
    assert row[f.TAGS] == ["t1"]


def test_openlit_ttft_kept_only_for_streamed_calls() -> None:
    base = {"gen_ai.operation.name": "chat", "gen_ai.server.time_to_first_token": 0.123,
            "gen_ai.application_name": "shop-app", "gen_ai.environment": "dev"}
    streamed = row_of({**base, "gen_ai.request.stream": True}, scope_name="openlit.instrumentation.openai")
    unstreamed = row_of({**base, "gen_ai.request.stream": False}, scope_name="openlit.instrumentation.openai")
    assert streamed[f.TTFT_MS] == pytest.approx(123.0) and unstreamed[f.TTFT_MS] is None
    assert unstreamed[f.STREAMING] is False
    bare = row_of(base, resource={"service.name": "unknown_service:python"})
    assert (bare[f.SERVICE_NAME], bare[f.ENVIRONMENT]) == ("shop-app", "dev")


@pytest.mark.parametrize("value", [True, "true", 1, "1", '"true"'])
def test_application_cache_hit(value: Any) -> None:
    assert row_of({"gen_ai.operation.name": "chat", "llmpulse.cache_hit": value})[f.CACHE_HIT] is True
    assert row_of({"gen_ai.cache.hit": value})[f.CACHE_HIT] is True


def test_no_cache_hit_by_default() -> None:
    assert row_of({"gen_ai.operation.name": "chat", "cache_hit": "no"})[f.CACHE_HIT] is False
    assert row_of({"gen_ai.operation.name": "chat"})[f.CACHE_HIT] is False


@pytest.mark.parametrize(("name", "expected"), [
    ("OpenAI", "openai"), ("azure", "azure.ai.openai"), ("openai.chat", "openai"),
    ("anthropic.messages", "anthropic"), ("google.vertex.chat", "gcp.vertex_ai"), ("mistralai", "mistral_ai"),
    ("aws.bedrock", "aws.bedrock"), ("amazon-bedrock", "aws.bedrock"), ("some-new-vendor", "some-new-vendor"),
    ("", ""),
])
def test_normalize_provider(name: str, expected: str) -> None:
    assert normalize_provider(name) == expected


# --- truncation ---------------------------------------------------------------------------------------


def test_long_strings_are_cut_with_a_visible_marker() -> None:
    long_text = "x" * 150
    row = normalize_span(span({
        "gen_ai.operation.name": "chat", "note": long_text, "list": ["y" * 200],
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": long_text}]}]),
    }, events=(SpanEvent("gen_ai.content.prompt", START, {"gen_ai.prompt": long_text}),),
        resource={"service.name": long_text}), "acme", max_chars=100)
    marker = "…[truncated 50 chars]"
    assert row[f.ATTRIBUTES]["note"] == "x" * 100 + marker
    assert row[f.ATTRIBUTES]["list"].endswith("…[truncated 104 chars]")  # JSON text '["y…y"]' is 204 chars
    assert len(row[f.ATTRIBUTES]["gen_ai.input.messages"]) == 100 + len("…[truncated 000 chars]")
    assert messages(row, f.INPUT_MESSAGES) == [{"role": "user", "content": "x" * 100 + marker}]
    assert json.loads(row[f.EVENTS])[0]["attributes"]["gen_ai.prompt"] == "x" * 100 + marker
    assert row[f.RESOURCE_ATTRIBUTES]["service.name"] == "x" * 100 + marker
    assert clip("abc", 3) == "abc" and clip("abcd", 3) == "abc…[truncated 1 chars]"


# --- odd input ------------------------------------------------------------------------------------------


ODD_NUMBERS: dict[str, Any] = {
    "gen_ai.usage.input_tokens": "many", "gen_ai.usage.output_tokens": -5, "gen_ai.usage.total_tokens": True,
    "gen_ai.usage.cache_read.input_tokens": float("nan"), "gen_ai.usage.reasoning.output_tokens": 10**30,
    "gen_ai.response.time_to_first_chunk": "soon", "gen_ai.usage.cost": "free", "llm.cost.total": float("inf"),
}
ODD_TYPES: dict[str, Any] = {
    "gen_ai.response.finish_reasons": 3, "tag.tags": "[oops", "gen_ai.request.stream": "maybe",
    "gen_ai.provider.name": ["openai"], "gen_ai.request.model": {"name": "x"}, "user.id": 42, "session.id": None,
}
ODD_ATTRIBUTES: list[dict[str, Any]] = [
    ODD_NUMBERS, ODD_TYPES,
    {"gen_ai.input.messages": "{not json", "gen_ai.output.messages": "[1, 2", "gen_ai.system_instructions": "{"},
    {"gen_ai.input.messages": json.dumps({"role": 5, "parts": "nope"}), "gen_ai.output.messages": "42"},
    {"gen_ai.input.messages": [{"role": "user", "parts": [None, 3, {"type": "text"}]}], "gen_ai.output.messages": {}},
    {"langfuse.observation.usage_details": "not json", "langfuse.observation.cost_details": "[1]",
     "langfuse.observation.completion_start_time": "yesterday", "langfuse.observation.type": 7},
    {"llm.invocation_parameters": "{bad", "openinference.span.kind": None, "output.value": "{",
     "output.mime_type": "application/json", "llm.input_messages.x.message.role": "user",
     "llm.input_messages.0": "flat", "retrieval.documents.0.document.score": "high"},
    {"gen_ai.response.time_to_first_chunk": -0.5, "gen_ai.usage.cost": -1, "ai.response.msToFirstChunk": "1e999"},
    {"ai.response.toolCalls": "[{", "ai.prompt.messages": "[{}]", "ai.response.providerMetadata": "null",
     "ai.operationId": "ai.streamText.doStream", "gen_ai.event.content": "{"},
    {"nested": {"a": [1, {"b": None}]}, "bytes_like": "AAEC", "empty": "", "none": None, 7: "int key"},
]


@pytest.mark.parametrize("attributes", ODD_ATTRIBUTES)
def test_odd_attributes_never_raise(attributes: dict[str, Any]) -> None:
    row = row_of(attributes, events=(SpanEvent("gen_ai.user.message", START, {"content": None}),
                                     SpanEvent("gen_ai.choice", START, {"message": "x"})))
    assert set(row) == set(f.SPAN_COLUMNS)
    # a count is a count or NULL (refused: negative, NaN, over the bound), never anything else
    assert all(row[name] is None or (type(row[name]) is int and 0 <= row[name] <= DEFAULT_MAX_COUNT)
               for name in f.TOKEN_FIELDS)
    assert all(type(v) is str for v in row[f.ATTRIBUTES].values())
    assert set(row[f.ATTRIBUTES]) - {REFUSED_ATTRIBUTE} == {str(k) for k in attributes}
    for column in (f.INPUT_MESSAGES, f.OUTPUT_MESSAGES, f.RETRIEVAL_DOCUMENTS):
        assert row[column] == "" or isinstance(json.loads(row[column]), list)
    assert row[f.TTFT_MS] is None or row[f.TTFT_MS] >= 0


def test_odd_values_are_ignored_not_guessed() -> None:
    row = row_of(ODD_NUMBERS)
    # text and booleans are no count (0); a negative, NaN or huge number is a refused one (NULL),
    # and so is the total made from it
    assert tokens(row) == (0, None, None, 0, None, None)
    assert row[f.TTFT_MS] is None and row[f.COST_REPORTED] is None
    row = row_of(ODD_TYPES)
    assert (row[f.PROVIDER], row[f.REQUEST_MODEL], row[f.USER_ID], row[f.FINISH_REASONS]) == ("", "", "42", [])


def test_odd_span_fields_never_raise() -> None:
    odd = span("not a dict", kind=99, status_code="2", start_ns=None, end_ns=-5, name=None,  # type: ignore[arg-type]
               resource=None, parent_span_id=None)
    row = normalize_span(odd, "acme")
    assert (row[f.KIND], row[f.STATUS_CODE], row[f.NAME], row[f.PARENT_SPAN_ID]) == ("unspecified", "unset", "", "")
    assert row[f.START_TIME] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) and row[f.DURATION_MS] == 0
    assert row[f.ATTRIBUTES] == {} and row[f.RESOURCE_ATTRIBUTES] == {}


@pytest.mark.parametrize(("value", "expected"), [
    ('"2026-11-23T09:45:39.974101Z"', 1_795_427_139_974_101_000), ("2026-11-23T09:45:39.974101+00:00",
                                                                   1_795_427_139_974_101_000),
    (1_795_427_139_974_101_000, 1_795_427_139_974_101_000), (1_795_427_139_974.101, 1_795_427_139_974_101_000),
    ("garbage", None), (None, None), (-1, None),
])
def test_timestamps_in_any_unit(value: Any, expected: int | None) -> None:
    got = as_ns(value)
    assert got == expected or (expected is not None and got is not None and abs(got - expected) < 1000)


# --- GenAI events sent as log records --------------------------------------------------------------------


def record(name: str, body: Any, attributes: dict[str, Any] | None = None,
           span_id: str = "aaaaaaaaaaaaaaaa") -> RawLogRecord:
    return RawLogRecord(TRACE, span_id, START, name, body, attributes or {"gen_ai.system": "openai"}, {}, "x")


def test_extract_log_messages_per_span() -> None:
    records = [
        record("gen_ai.system.message", {"content": "Sys"}),
        record("gen_ai.user.message", {"content": "Weather?"}),
        record("gen_ai.choice", {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
               "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]}}),
        record("gen_ai.user.message", {}),  # no-content mode: the event comes without its content
        record("gen_ai.tool.message", {"content": "18C", "id": "c1"}, span_id="bbbbbbbbbbbbbbbb"),
        record("gen_ai.client.inference.operation.details", "", {
            "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Q"}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "A"}],
                                        "finish_reason": "stop"}]}, span_id="cccccccccccccccc"),
        record("gen_ai.evaluation.result", {"score": 1}, span_id="dddddddddddddddd"),
        record("", "plain log line", span_id="eeeeeeeeeeeeeeee"),
    ]
    found = extract_log_messages(records)
    assert set(found) == {(TRACE, "aaaaaaaaaaaaaaaa"), (TRACE, "bbbbbbbbbbbbbbbb"), (TRACE, "cccccccccccccccc")}
    first = found[(TRACE, "aaaaaaaaaaaaaaaa")]
    assert first["input"] == [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Weather?"}]
    assert first["output"] == [{"role": "assistant", "content": "", "finish_reason": "tool_calls",
                                "tool_calls": [{"id": "c1", "name": "w", "arguments": "{}"}]}]
    assert found[(TRACE, "bbbbbbbbbbbbbbbb")]["input"] == [{"role": "tool", "content": "18C", "tool_call_id": "c1"}]
    assert found[(TRACE, "cccccccccccccccc")] == {
        "input": [{"role": "user", "content": "Q"}],
        "output": [{"role": "assistant", "content": "A", "finish_reason": "stop"}]}


def test_extract_log_messages_truncates_and_survives_odd_records() -> None:
    records = [record("gen_ai.user.message", {"content": "z" * 20}),
               record("gen_ai.choice", "not a dict"), record("gen_ai.user.message", None),
               RawLogRecord(TRACE, "aaaaaaaaaaaaaaaa", 0, None, None, None, None, "x")]  # type: ignore[arg-type]
    found = extract_log_messages(records, max_chars=5)
    assert found[(TRACE, "aaaaaaaaaaaaaaaa")]["input"] == [{"role": "user", "content": "zzzzz…[truncated 15 chars]"}]


def test_openinference_embedding_without_request_model_groups_by_served_model() -> None:
    row = row_of({"openinference.span.kind": "EMBEDDING", "embedding.model_name": "text-embedding-3-small",
                  "llm.token_count.prompt": 8})
    assert row[f.SPAN_TYPE] == "embedding"
    assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == ("text-embedding-3-small", "text-embedding-3-small")
