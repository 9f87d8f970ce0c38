"""Per-call failure signals (collector/signals.py) on spans shaped as each convention sends them.

The corpus holds no structured-output call and no truncated one (tests/unit/test_signals_corpus.py
edits real corpus spans to get them); these spans follow the instrumentations' own code and docs:
the attribute names and value shapes each one writes when an app asks for JSON, is refused, runs
out of tokens or sees a tool fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from collector.normalize import normalize_span
from schemas import fields as f
from schemas.records import RawSpan

START = 1_795_427_105_114_696_957
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}
GOOD, NOT_JSON, OFF_SCHEMA = '{"name": "Ada", "age": 36}', '{"name": "Ada", "age": 36', '{"name": "Ada"}'


def row_of(attributes: dict[str, Any], *, name: str = "chat gpt-4o", scope: str = "test", status: int = 1,
           ) -> dict[str, Any]:
    span = RawSpan("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "", name, 3, START, START + 10**9,
                   status, "", attributes, {"service.name": "shop"}, scope, "")
    return normalize_span(span, "acme")


def signals(row: dict[str, Any]) -> dict[str, bool]:
    return {name: row[name] for name in f.SIGNAL_FIELDS if row[name]}


def otel_output(text: str, finish: str = "stop") -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish}])


def otel(extra: dict[str, Any], answer: str = GOOD, finish: str = "stop") -> dict[str, Any]:
    """An OTel GenAI ≥1.37 chat span (openai-v2 `span_only` content)."""
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.finish_reasons": [finish], "gen_ai.output.messages": otel_output(answer, finish),
            **extra}


def openinference(params: dict[str, Any], answer: str = GOOD) -> dict[str, Any]:
    return {"openinference.span.kind": "LLM", "llm.system": "openai", "llm.model_name": "gpt-4o-2024-08-06",
            "llm.invocation_parameters": json.dumps({"model": "gpt-4o", **params}),
            "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": answer,
            "llm.finish_reason": "stop"}


def openllmetry(schema: str, answer: str = GOOD) -> dict[str, Any]:
    return {"llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
            "gen_ai.request.structured_output_schema": schema,
            "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": answer,
            "gen_ai.completion.0.finish_reason": "stop"}


def langfuse(extra: dict[str, Any], answer: str = GOOD) -> dict[str, Any]:
    return {"langfuse.observation.type": "generation", "langfuse.observation.model.name": "gpt-4o",
            "langfuse.observation.output": json.dumps({"role": "assistant", "content": answer}), **extra}


def vercel(operation: str, answer_key: str, answer: str) -> dict[str, Any]:
    return {"ai.operationId": operation, "operation.name": f"{operation} extract-person", "ai.model.id": "gpt-4o",
            "ai.model.provider": "openai.chat", answer_key: answer, "ai.response.finishReason": "stop",
            "gen_ai.system": "openai.chat", "gen_ai.request.model": "gpt-4o"}


RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "strict": True, "schema": PERSON}}

# (convention, attributes with the given answer) for requests that carry the Person schema.
WITH_SCHEMA = {
    "openinference response_format": lambda a: openinference({"response_format": RESPONSE_FORMAT}, a),
    "openinference responses text.format": lambda a: openinference(
        {"text": {"format": {"type": "json_schema", "name": "person", "schema": PERSON}}}, a),
    "openinference gemini config": lambda a: openinference(
        {"config": {"response_mime_type": "application/json", "response_json_schema": PERSON}}, a),
    "openinference anthropic output_format": lambda a: openinference(
        {"output_format": {"type": "json_schema", "schema": PERSON}}, a),
    "openllmetry structured_output_schema": lambda a: openllmetry(json.dumps(PERSON), a),
    "langfuse metadata response_format": lambda a: langfuse(
        {"langfuse.observation.metadata.response_format": json.dumps(RESPONSE_FORMAT)}, a),
    "langfuse metadata pydantic schema": lambda a: langfuse(
        {"langfuse.observation.metadata.response_format": json.dumps(PERSON)}, a),
    "langfuse model parameters": lambda a: langfuse(
        {"langfuse.observation.model.parameters": json.dumps({"temperature": 0, "response_format": RESPONSE_FORMAT})},
        a),
}
# Requests for any JSON, no schema.
JSON_MODE = {
    "otel output.type": lambda a: otel({"gen_ai.output.type": "json"}, a),
    "otel ≤1.36 openai response_format": lambda a: otel({"gen_ai.openai.request.response_format": "json_object"}, a),
    "openlit output.type": lambda a: otel({"gen_ai.output.type": "json", "gen_ai.usage.cost": 0.0001,
                                           "telemetry.sdk.name": "openlit"}, a),
    "openinference json_object": lambda a: openinference({"response_format": {"type": "json_object"}}, a),
    "openinference ollama format": lambda a: openinference({"format": "json"}, a),
    "openllmetry json_object": lambda a: openllmetry('{"type": "json_object"}', a),
    "langfuse metadata json_object": lambda a: langfuse(
        {"langfuse.observation.metadata.response_format": '{"type": "json_object"}'}, a),
    "vercel generateObject": lambda a: vercel("ai.generateObject.doGenerate", "ai.response.object", a),
    "vercel streamObject": lambda a: vercel("ai.streamObject.doStream", "ai.response.object", a),
}


@pytest.mark.parametrize("convention", sorted(WITH_SCHEMA))
def test_a_schema_request_is_judged_by_its_schema(convention: str) -> None:
    build = WITH_SCHEMA[convention]
    good, broken, off = row_of(build(GOOD)), row_of(build(NOT_JSON)), row_of(build(OFF_SCHEMA))
    assert signals(good) == {f.JSON_REQUESTED: True}
    assert signals(broken) == {f.JSON_REQUESTED: True, f.PARSE_FAILURE: True}
    assert broken[f.ATTRIBUTES][f.PARSE_FAILURE_ATTRIBUTE].startswith("not valid JSON: ")
    assert signals(off) == {f.JSON_REQUESTED: True, f.PARSE_FAILURE: True}
    assert off[f.ATTRIBUTES][f.PARSE_FAILURE_ATTRIBUTE] == \
        "breaks the schema at the top level: 'age' is a required property"


@pytest.mark.parametrize("convention", sorted(JSON_MODE))
def test_a_json_mode_request_wants_any_json(convention: str) -> None:
    build = JSON_MODE[convention]
    assert signals(row_of(build(OFF_SCHEMA))) == {f.JSON_REQUESTED: True}  # no schema: any object will do
    assert signals(row_of(build("Sure! Here is the person: Ada, 36."))) == {f.JSON_REQUESTED: True,
                                                                             f.PARSE_FAILURE: True}


def test_text_answers_of_text_requests_are_never_parsed() -> None:
    prose = "Ada Lovelace was born in 1815."
    for attributes in (otel({}, prose), otel({"gen_ai.output.type": "text"}, prose),
                       otel({"gen_ai.openai.request.response_format": "text"}, prose),
                       openinference({"temperature": 0.2, "response_format": {"type": "text"}}, prose),
                       openllmetry('{"type": "text"}', prose),
                       vercel("ai.generateText.doGenerate", "ai.response.text", prose)):
        assert signals(row_of(attributes)) == {}


def test_a_refused_or_unrecorded_answer_is_no_parse_failure() -> None:
    refused = otel({"gen_ai.output.type": "json"}) | {"gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "content": None, "refusal": "I'm sorry, I can't help with that."}])}
    assert signals(row_of(refused)) == {f.JSON_REQUESTED: True, f.REFUSAL: True}
    no_content = {k: v for k, v in otel({"gen_ai.output.type": "json"}).items() if k != "gen_ai.output.messages"}
    assert signals(row_of(no_content)) == {f.JSON_REQUESTED: True}
    failed = otel({"gen_ai.output.type": "json", "error.type": "RateLimitError"})
    del failed["gen_ai.output.messages"]
    assert signals(row_of(failed, status=2)) == {f.JSON_REQUESTED: True}


# --- tool calls ----------------------------------------------------------------------------------

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
           "required": ["city"]}


def otel_tool_call(arguments: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather",
                                              "arguments": arguments}], "finish_reason": "tool_call"}]
    return {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.output.messages": json.dumps(answer), **(extra or {})}


def test_tool_call_arguments_must_be_json_and_fit_the_tool() -> None:
    definitions = {"gen_ai.tool.definitions": json.dumps(
        [{"type": "function", "name": "get_weather", "parameters": WEATHER}])}
    assert signals(row_of(otel_tool_call({"city": "Paris"}, definitions))) == {f.JSON_REQUESTED: True}
    assert signals(row_of(otel_tool_call('{"city": "Paris"', definitions))) == {f.JSON_REQUESTED: True,
                                                                               f.PARSE_FAILURE: True}
    off = row_of(otel_tool_call({"city": "Paris", "unit": "kelvin"}, definitions))
    assert off[f.PARSE_FAILURE] and off[f.ATTRIBUTES][f.PARSE_FAILURE_ATTRIBUTE].startswith(
        "tool call get_weather: arguments breaks the schema at unit: 'kelvin' is not one of")
    # No definitions on the span: only JSON is asked of the arguments.
    assert signals(row_of(otel_tool_call({"city": "Paris", "unit": "kelvin"}))) == {f.JSON_REQUESTED: True}


def test_tool_definitions_of_each_carrier_are_read() -> None:
    bad = {"unit": "celsius"}  # no city
    openinference_tools = {"llm.tools.0.tool.json_schema": json.dumps(
        {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}})}
    vercel_tools = {"ai.prompt.tools": [json.dumps({"type": "function", "name": "get_weather",
                                                    "inputSchema": WEATHER})]}
    openllmetry_functions = {"llm.request.functions.0.name": "get_weather",
                             "llm.request.functions.0.parameters": json.dumps(WEATHER)}
    for tools in (openinference_tools, vercel_tools, openllmetry_functions):
        assert row_of(otel_tool_call(bad, tools))[f.PARSE_FAILURE], tools


def test_openinference_and_vercel_tool_calls() -> None:
    flattened = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                 "llm.output_messages.0.message.role": "assistant",
                 "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_a2",
                 "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
                 "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city": "Paris"'}
    assert signals(row_of(flattened)) == {f.JSON_REQUESTED: True, f.PARSE_FAILURE: True}
    calls = json.dumps([{"toolCallId": "c1", "toolName": "get_weather", "input": '{"city": "Paris"}'}])
    vercel_call = vercel("ai.generateText.doGenerate", "ai.response.toolCalls", calls)
    assert signals(row_of(vercel_call)) == {f.JSON_REQUESTED: True}


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["content_filter", "content-filter", "refusal", "SAFETY", "PROHIBITED_CONTENT",
                                    "guardrail_intervened"])
def test_a_refusal_finish_reason(reason: str) -> None:
    assert signals(row_of(otel({}, "", finish=reason))) == {f.REFUSAL: True}


def test_refusal_phrases_and_refusal_fields() -> None:
    curly = "I\u2019m sorry, but I can\u2019t assist with that request."  # typographic apostrophes
    assert row_of(otel({}, curly))[f.REFUSAL]
    assert row_of(openinference({}, "I cannot help with creating malware."))[f.REFUSAL]
    assert not row_of(otel({}, "Sorry for the wait! Your order ships tomorrow."))[f.REFUSAL]
    responses_api = otel({}) | {"gen_ai.output.messages": json.dumps(
        [{"role": "assistant", "parts": [{"type": "refusal", "refusal": "No."}]}])}
    assert row_of(responses_api)[f.REFUSAL]
    assert not row_of(otel_tool_call({"city": "Paris"}))[f.REFUSAL]


# --- truncation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("attributes", "truncated"), [
    (otel({}, "The answer is", finish="length"), True),  # OpenAI, OTel
    ({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4", "llm.request.type": "chat",
      "gen_ai.response.finish_reasons": ["max_tokens"]}, True),  # Anthropic via OpenLLMetry
    ({"gen_ai.operation.name": "generate_content", "gen_ai.request.model": "gemini-2.5-flash",
      "gen_ai.response.finish_reasons": ["MAX_TOKENS"]}, True),  # Gemini
    ({**openinference({}), "llm.finish_reason": "length"}, True),
    ({**vercel("ai.generateText.doGenerate", "ai.response.text", "The"), "ai.response.finishReason": "length"},
     True),
    (langfuse({"langfuse.observation.metadata.finish_reason": '"length"'}, "The"), True),
    (otel({}, "Done."), False),
])
def test_truncation_in_each_spelling(attributes: dict[str, Any], truncated: bool) -> None:
    assert row_of(attributes)[f.TRUNCATED] is truncated


# --- tool errors ---------------------------------------------------------------------------------


def test_a_failed_tool_span_is_a_tool_error_and_a_failed_llm_call_is_not() -> None:
    execute = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather",
               "gen_ai.tool.call.id": "call_1", "error.type": "TimeoutError"}
    assert signals(row_of(execute, name="execute_tool get_weather", status=2)) == {f.TOOL_ERROR: True}
    assert signals(row_of(execute, name="execute_tool get_weather")) == {}
    assert signals(row_of({"openinference.span.kind": "TOOL", "tool.name": "search"}, status=2)) == {
        f.TOOL_ERROR: True}
    assert signals(row_of({"ai.operationId": "ai.toolCall", "ai.toolCall.name": "search"}, name="ai.toolCall",
                          status=2)) == {f.TOOL_ERROR: True}
    assert signals(row_of(otel({}), status=2)) == {}


def history(*turns: dict[str, Any]) -> str:
    return json.dumps([{"role": "user", "content": "Weather in Paris?"}, *turns])


ASKED = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]}


def test_a_call_handed_a_failed_tool_result_is_flagged() -> None:
    anthropic = {"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4", "llm.request.type": "chat",
                 "langfuse.observation.type": "generation"}
    failed = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                                           "content": "upstream timed out"}]}
    succeeded = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"}]}
    assert row_of({**anthropic, "langfuse.observation.input": history(ASKED, failed)})[f.TOOL_ERROR]
    assert not row_of({**anthropic, "langfuse.observation.input": history(ASKED, succeeded)})[f.TOOL_ERROR]
    vercel_v5 = [{"role": "tool", "content": [{"type": "tool-result", "toolCallId": "c1", "toolName": "get_weather",
                                               "output": {"type": "error-text", "value": "fetch failed"}}]}]
    prompt = vercel("ai.generateText.doGenerate", "ai.response.text", "Sorry, the weather service is down.")
    assert row_of({**prompt, "ai.prompt.messages": history(ASKED, *vercel_v5)})[f.TOOL_ERROR]
    vercel_v4 = [{"role": "tool", "content": [{"type": "tool-result", "toolCallId": "c1", "result": "fetch failed",
                                               "isError": True}]}]
    assert row_of({**prompt, "ai.prompt.messages": history(ASKED, *vercel_v4)})[f.TOOL_ERROR]


def test_a_framework_error_message_as_tool_result_is_flagged() -> None:
    """LangChain's ToolNode and the OpenAI Agents SDK hand the model a text, with no flag."""
    flattened = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                 "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "Paris?",
                 "llm.input_messages.1.message.role": "assistant",
                 "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "get_weather",
                 "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{}",
                 "llm.input_messages.2.message.role": "tool",
                 "llm.input_messages.2.message.content": "Error: ValueError('city is required')\n Please fix your "
                                                         "mistakes."}
    assert row_of(flattened)[f.TOOL_ERROR]
    agents = otel({}) | {"gen_ai.input.messages": json.dumps([
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response":
                                    "An error occurred while running the tool. Please try again. Error: 502"}]}])}
    assert row_of(agents)[f.TOOL_ERROR]
    fine = otel({}) | {"gen_ai.input.messages": json.dumps([
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "No errors found."}]}])}
    assert not row_of(fine)[f.TOOL_ERROR]


def test_an_old_failed_tool_result_is_not_counted_again() -> None:
    """A conversation carries its history: only the newest turn was told to this call."""
    old_failure = [ASKED, {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: timed out"},
                   {"role": "assistant", "content": "The weather service is down, try later."},
                   {"role": "user", "content": "And now?"}]
    assert not row_of(otel({}) | {"gen_ai.input.messages": history(*old_failure)})[f.TOOL_ERROR]


def test_embedding_and_other_spans_carry_no_signal() -> None:
    embedding = {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
                 "gen_ai.output.type": "json", "gen_ai.response.finish_reasons": ["length"]}
    assert signals(row_of(embedding)) == {}
    assert signals(row_of({"gen_ai.operation.name": "invoke_agent"}, status=2)) == {}
