"""A call's failure signals, decided once at ingest and stored on its span: a structured-output
parse failure, a refusal, a truncated answer, a tool error (`schemas.fields.SIGNAL_FIELDS`).

They are read from what normalization already made of the span (its messages, finish reasons,
status), so a span pays a few dict and substring tests (normalizing the ingest bench's chat span
went from ~26 to ~29 µs of CPU, a span without content ~0.7 µs more; mypyc compiles this module
with the rest of the hot path); JSON is parsed only where JSON was asked for or a tool was called
(`collector.structured`).

Where a tool error counts: a tool execution span that failed is flagged itself (its trace then
holds a tool error: the trace list's filter and the trace view show it); an LLM call is flagged
when the newest turn of its input hands it a tool result marked as failed, the way the model
learns of the failure. Rates count calls, so `tool_error_rate` is the share of LLM calls that
were told a tool failed; a failed tool whose result never reaches a model is seen on its trace.
"""

from __future__ import annotations

from typing import Any

import orjson

from collector.reader import Reader
from collector.structured import answer_problem, json_request, schema_problem
from collector.tool_schemas import tool_schemas
from schemas import fields as f
from schemas import signal_sources as ss
from schemas.refusals import refusal_phrase, refused_by_finish_reason

Message = dict[str, Any]
# Every attribute that can say a call asked for JSON: a span with none of them (nearly all) is
# done in one C-level test, without calling into `collector.structured`.
_REQUEST_KEYS = frozenset({ss.OUTPUT_TYPE, *ss.FORMAT_KEYS, *ss.PARAMETER_KEYS, ss.VERCEL_OPERATION_ID})


def add_signals(row: dict[str, Any], reader: Reader, span_type: str, inputs: list[Message],
                outputs: list[Message], max_chars: int) -> None:
    """Set the signal columns of a span's `row` (its name, status and finish reasons already in it);
    a parse failure also says why in the row's `llmpulse.parse_failure` attribute. Written into
    the row rather than returned, so no dict per span is built and merged."""
    problem = ""
    if span_type == f.TYPE_LLM:
        requested, problem = _structured_output(reader, row[f.NAME], outputs, max_chars)
        reasons = row[f.FINISH_REASONS]
        row[f.JSON_REQUESTED] = requested
        row[f.REFUSAL] = _refused(outputs, reasons)
        row[f.TRUNCATED] = _truncated(reasons)
        row[f.TOOL_ERROR] = _told_of_tool_error(inputs)
    else:
        row[f.JSON_REQUESTED] = row[f.REFUSAL] = row[f.TRUNCATED] = False
        row[f.TOOL_ERROR] = span_type == f.TYPE_TOOL and row[f.STATUS_CODE] == "error"
    row[f.PARSE_FAILURE] = bool(problem)
    if problem:
        row[f.ATTRIBUTES][f.PARSE_FAILURE_ATTRIBUTE] = problem


def _truncated(finish_reasons: list[str]) -> bool:
    return any(reason.lower() in ss.TRUNCATION_FINISH_REASONS for reason in finish_reasons)


def _structured_output(reader: Reader, name: str, outputs: list[Message], max_chars: int) -> tuple[bool, str]:
    """(asked for JSON or answered with a tool call, why the answer fails that)."""
    asked = name.startswith("ai.") or not reader.attrs.keys().isdisjoint(_REQUEST_KEYS)
    request = json_request(reader, name) if asked else None
    calls = [call for message in outputs if "tool_calls" in message for call in message["tool_calls"]]
    if request is None and not calls:
        return False, ""
    problem = ""
    if request is not None:
        texts = _answers(reader.attrs, outputs, max_chars)
        problem = next((found for text in texts if (found := answer_problem(text, request.schema))), "")
    if not problem and calls:
        problem = _tool_call_problem(reader, calls, max_chars)
    return True, problem


def _answers(attrs: dict[str, Any], outputs: list[Message], max_chars: int) -> list[str]:
    """The answer texts a JSON request judges: the raw object where a convention keeps it, else
    each answer message's text. A refusal is no parse failure (it is a refusal), and a text clipped
    to the size cap cannot be judged."""
    raw = next((value for key in ss.ANSWER_KEYS if isinstance(value := attrs.get(key), str)), None)
    texts = [raw] if raw is not None else [
        m["content"] for m in outputs if m.get("content") and not m.get("refusal") and m.get("role") != "tool"]
    return [text for text in texts if len(text) <= max_chars]


def _tool_call_problem(reader: Reader, calls: list[dict[str, str]], max_chars: int) -> str:
    """Why a tool call's arguments fail: not JSON, or outside the tool's parameters (when the span
    carries the tool definitions)."""
    schemas: dict[str, dict[str, Any]] | None = None
    for call in calls:
        arguments = call.get("arguments") or ""
        if not arguments.strip() or len(arguments) > max_chars:
            continue  # no arguments at all, or clipped
        try:
            value = orjson.loads(arguments)
        except orjson.JSONDecodeError as exc:
            return f"tool call {call.get('name')}: arguments are not valid JSON: {exc}"[:300]
        schemas = tool_schemas(reader) if schemas is None else schemas
        schema = schemas.get(call.get("name") or "")
        if schema is not None and (problem := schema_problem(value, schema)):
            return f"tool call {call.get('name')}: arguments {problem}"[:300]
    return ""


def _refused(outputs: list[Message], finish_reasons: list[str]) -> bool:
    """The one refusal rule (`schemas.refusals`): the finish reason, the API's refusal field, the phrase."""
    if refused_by_finish_reason(finish_reasons):
        return True
    return any("refusal" in message or refusal_phrase(message["content"]) for message in outputs)


def _told_of_tool_error(inputs: list[Message]) -> bool:
    """Does the newest turn of the input (after the model's last message) hand over a failed tool
    result? Older turns were told to an earlier call: counting them again would flag every later
    call of a conversation."""
    for message in reversed(inputs):
        role = message["role"]
        if role == "assistant":
            return False
        if "is_error" in message or (role == "tool" and _opens_with_error(message["content"])):
            return True
    return False


def _opens_with_error(text: str) -> bool:
    return text.lstrip()[:40].lower().startswith(ss.TOOL_ERROR_OPENINGS)
