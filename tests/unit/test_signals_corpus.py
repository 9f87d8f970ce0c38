"""Failure signals on the corpus: what real instrumentation libraries sent (tests/corpus.py).

No corpus call asked for JSON, ran out of tokens, was refused or saw a tool fail, so the corpus as
recorded must raise no signal but one: the chat_tool_call answers are tool calls, structured
output whose arguments parse. Then real spans are edited the way each library would have written
them had the app asked for JSON or hit the token limit (the attribute that says so, nothing else)
and must raise the signal: their answers are prose, so a JSON request fails to parse.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import cache
from typing import Any

import pytest

from collector.decode import decode_traces
from collector.normalize import normalize_span
from collector.transport import decompress_body
from schemas import fields as f
from schemas.records import RawSpan
from tests.corpus import corpus_available, iter_payloads, labels, needs_corpus

pytestmark = needs_corpus
RUNS = labels() if corpus_available() else []
TOOL_CALL_ANSWERS = {"langfuse-openai", "openinference-openai", "openlit-openai", "openllmetry-openai",
                     "otel-openai-v2.content-span_and_event", "otel-openai-v2.gzip", "otel-openai-v2.json"}


@cache
def llm_spans(label: str) -> tuple[RawSpan, ...]:
    spans = []
    for body, content_type, encoding in iter_payloads(label):
        decoded = decode_traces(decompress_body(body, encoding, 64 << 20), content_type)
        spans += [span for span in decoded.spans if normalize_span(span, "corpus")[f.SPAN_TYPE] == f.TYPE_LLM]
    return tuple(spans)


def raised(row: dict[str, Any]) -> set[str]:
    return {name for name in f.SIGNAL_FIELDS if row[name]}


@pytest.mark.parametrize("label", RUNS)
def test_the_recorded_corpus_raises_only_its_tool_calls(label: str) -> None:
    rows = [normalize_span(span, "corpus") for span in llm_spans(label)]
    flagged = [raised(row) for row in rows if raised(row)]
    expected = [{f.JSON_REQUESTED}] if label in TOOL_CALL_ANSWERS else []  # the chat_tool_call step's answer
    assert flagged == expected
    assert all(f.PARSE_FAILURE_ATTRIBUTE not in row[f.ATTRIBUTES] for row in rows)


def _with(span: RawSpan, **attributes: Any) -> dict[str, Any]:
    return normalize_span(replace(span, attributes={**span.attributes, **attributes}), "corpus")


def _prose_answer(label: str) -> RawSpan:
    """The chat_simple call ("What is the capital of France?"), which answered in prose."""
    for span in llm_spans(label):
        row = normalize_span(span, "corpus")
        if "Paris" in row[f.OUTPUT_MESSAGES] and not raised(row):
            return span
    raise AssertionError(f"{label}: no prose answer")


# Run → the attributes its library writes for a JSON-mode request (the convention's own way).
JSON_MODE = {
    "otel-openai-v2.json": lambda s: {"gen_ai.output.type": "json"},
    "otel-openai-v2.gzip": lambda s: {"gen_ai.output.type": "json"},
    "openlit-openai": lambda s: {"gen_ai.output.type": "json"},
    "openllmetry-openai": lambda s: {"gen_ai.request.structured_output_schema": '{"type": "json_object"}'},
    "openinference-openai": lambda s: {"llm.invocation_parameters": json.dumps(
        {**json.loads(s.attributes["llm.invocation_parameters"]), "response_format": {"type": "json_object"}})},
    "langfuse-openai": lambda s: {"langfuse.observation.metadata.response_format": '{"type": "json_object"}'},
}


@pytest.mark.parametrize("label", sorted(JSON_MODE))
def test_a_json_request_answered_in_prose_is_a_parse_failure(label: str) -> None:
    span = _prose_answer(label)
    row = _with(span, **JSON_MODE[label](span))
    assert raised(row) == {f.JSON_REQUESTED, f.PARSE_FAILURE}
    assert row[f.ATTRIBUTES][f.PARSE_FAILURE_ATTRIBUTE].startswith("not valid JSON")


def test_a_json_request_without_captured_content_is_counted_not_judged() -> None:
    """openai-v2 2.3b0 records the response format; with content capture off there is no answer to parse."""
    span = llm_spans("otel-openai-v2-2.3b0")[0]
    row = _with(span, **{"gen_ai.openai.request.response_format": "json_object"})
    assert raised(row) == {f.JSON_REQUESTED}


# Run → the attribute its library writes for the finish reason, spelled as it spells "length".
LENGTH = {
    "otel-openai-v2": {"gen_ai.response.finish_reasons": ["length"]},
    "openlit-openai": {"gen_ai.response.finish_reasons": ["length"]},
    "openllmetry-openai": {"gen_ai.response.finish_reasons": ["length"]},
    "openinference-openai": {"llm.finish_reason": "length"},
    "langfuse-openai": {"langfuse.observation.metadata.finish_reason": '"length"'},
}


@pytest.mark.parametrize("label", sorted(LENGTH))
def test_a_length_finish_reason_is_a_truncation(label: str) -> None:
    span = llm_spans(label)[0]
    assert raised(_with(span, **LENGTH[label])) == {f.TRUNCATED}
