"""Calls known only by their OTel GenAI span name and their instrumentation scope (issue #20, item 2)."""

from __future__ import annotations

import pytest

from collector.normalize import normalize_span
from schemas import fields as f
from schemas.records import RawSpan, SpanEvent

START = 1_795_427_105_114_696_957


def bare_span(name: str, scope: str, status_code: int = 2, **attributes: object) -> RawSpan:
    """A span as OpenLIT 1.45 sends a failed Anthropic call: no attributes, an exception event."""
    event = SpanEvent("exception", START + 1000, {"exception.type": "anthropic.RateLimitError"})
    return RawSpan("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", name, 3, START,
                   START + 250_000_000, status_code, "", dict(attributes), {}, scope, "1.45", (event,))


def test_openlit_failed_anthropic_call_without_attributes_is_one_failed_call() -> None:
    row = normalize_span(bare_span("chat claude-3-5-haiku-20241022", "openlit.instrumentation.anthropic"), "p")
    assert row[f.IS_CALL] and row[f.SPAN_TYPE] == f.TYPE_LLM and row[f.STATUS_CODE] == "error"
    assert (row[f.REQUEST_MODEL], row[f.RESPONSE_MODEL]) == ("claude-3-5-haiku-20241022", "")
    assert (row[f.PROVIDER], row[f.OPERATION], row[f.CONVENTION]) == ("anthropic", "chat", "openlit")
    assert row[f.ERROR_TYPE] == "anthropic.RateLimitError"


@pytest.mark.parametrize(("name", "scope", "expected"), [
    # provider from the scope even where the model's name says nothing of it
    ("chat acme-private-7b", "openlit.instrumentation.mistral", (f.TYPE_LLM, "acme-private-7b", "mistral_ai")),
    ("embeddings text-embedding-3-small", "opentelemetry.instrumentation.openai_v2",
     (f.TYPE_EMBEDDING, "text-embedding-3-small", "openai")),
    ("generate_content gemini-2.0-flash", "opentelemetry.instrumentation.google_genai",
     (f.TYPE_LLM, "gemini-2.0-flash", "gcp.gen_ai")),
    ("text_completion my-model", "openinference.instrumentation.anthropic", (f.TYPE_LLM, "my-model", "anthropic")),
    # a library that spans providers: the model's name says which
    ("chat gpt-4o", "openinference.instrumentation.langchain", (f.TYPE_LLM, "gpt-4o", "openai")),
])
def test_named_calls_of_genai_scopes(name: str, scope: str, expected: tuple[str, str, str]) -> None:
    row = normalize_span(bare_span(name, scope), "p")
    assert row[f.IS_CALL] and (row[f.SPAN_TYPE], row[f.REQUEST_MODEL], row[f.PROVIDER]) == expected


@pytest.mark.parametrize(("name", "scope"), [
    ("GET /x", "opentelemetry.instrumentation.flask"),  # an HTTP span
    ("chat room", "opentelemetry.instrumentation.django"),  # a web framework's span named like a call
    ("chat room", "corpus.app"),  # the app's own span
    ("POST", "opentelemetry.instrumentation.httpx"),  # OpenLIT's HTTP child span (corpus)
    ("chat", "openlit.instrumentation.anthropic"),  # no model in the name
    ("chat two words", "openlit.instrumentation.anthropic"),  # not `{operation} {model}`
    ("execute_tool get_weather", "openlit.instrumentation.openai"),  # an operation that names no model
])
def test_other_spans_stay_what_they_are(name: str, scope: str) -> None:
    row = normalize_span(bare_span(name, scope), "p")
    assert not row[f.IS_CALL] and row[f.SPAN_TYPE] == f.TYPE_OTHER and row[f.REQUEST_MODEL] == ""


def test_attributes_win_over_the_span_name() -> None:
    span = bare_span("chat claude-3-5-haiku", "openlit.instrumentation.anthropic", 1, **{
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-3-5-sonnet",
        "gen_ai.provider.name": "aws.bedrock"})
    row = normalize_span(span, "p")
    assert (row[f.REQUEST_MODEL], row[f.PROVIDER]) == ("claude-3-5-sonnet", "aws.bedrock")


def test_a_tool_span_of_a_genai_scope_keeps_its_type() -> None:
    span = bare_span("chat gpt-4o", "openinference.instrumentation.openai", 1, **{"openinference.span.kind": "TOOL"})
    assert normalize_span(span, "p")[f.SPAN_TYPE] == f.TYPE_TOOL
