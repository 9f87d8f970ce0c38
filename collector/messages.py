"""Chat content of a span, from whichever carrier its instrumentation used.

Content arrives in three generations of OTel conventions (span events with a JSON list,
per-message events as span events or OTLP log records, parts-based JSON attributes) plus
each vendor's own shape (OpenLLMetry/OpenInference flattened `prefix.{i}.…` attributes,
Vercel `ai.prompt.messages`, Langfuse input/output, OpenInference `input.value`). All of
them become one shape: `{"role", "content"}` plus optional `tool_calls` ([{id, name,
arguments}]), `name`, `tool_call_id`, `finish_reason`, and two marks the failure signals read
(`collector.signals`): `is_error` on a tool result the framework marked as failed (Anthropic
`is_error`, Vercel `isError` or an `error-text` / `error-json` output, LangChain `status: error`)
and `refusal` on an answer the API returned as a refusal (OpenAI's `refusal` field, a Responses
API refusal part). Every string is size-capped.

Spans and log records are read untyped (`Any`): their fields hold whatever a decoder put there,
and this module, compiled by mypyc (which checks annotations at run time), must not raise on them.
"""

from __future__ import annotations

from typing import Any

from collector.coerce import as_float, as_text, clip, dumps, loads
from schemas import conventions as cv
from schemas import message_carriers as mc

INPUT, OUTPUT = "input", "output"
_DEFAULT_ROLE = {INPUT: "user", OUTPUT: "assistant"}
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_SKIPPED_PARTS = frozenset({"reasoning", "thinking", "redacted_thinking"})  # not the answer: kept out of content
_TOOL_CALL_PARTS = frozenset({"tool_call", "tool-call", "function_call"})
_TOOL_RESULT_PARTS = frozenset({"tool_call_response", "tool-result", "tool_result", "function_call_output"})
_REFUSAL_PART = "refusal"
_ERROR_OUTPUTS = frozenset({"error-text", "error-json"})  # the Vercel AI SDK's failed tool-result outputs
# Marks a message's content can carry (`_content_of`), as bits.
TOOL_ERROR_MARK, REFUSAL_MARK = 1, 2
Message = dict[str, Any]
_CARRIER_KEYS = frozenset(key for _, key in mc.INPUT_CARRIERS + mc.OUTPUT_CARRIERS) | {cv.RETRIEVAL_JSON}


def span_content(span: Any, attrs: dict[str, Any], indexed: dict[str, dict[str, Any]] | None,
                 span_type: str, max_chars: int) -> tuple[list[Message], list[Message], list[dict[str, Any]]]:
    """(input messages, output messages, retrieval documents) of one span.

    `indexed` is the span's `prefix.{i}.rest` attributes grouped by prefix, if the caller
    already collected them in its own pass over the attributes; None collects them here.
    """
    indexed = collect_indexed(attrs) if indexed is None else indexed
    if not indexed and not span.events and attrs.keys().isdisjoint(_CARRIER_KEYS):
        return [], [], []  # most spans carry no content: one C-level test
    inputs = _first_messages(mc.INPUT_CARRIERS, INPUT, span, attrs, indexed, max_chars)
    outputs = []
    if span_type not in mc.NO_OUTPUT_CONTENT_TYPES:
        outputs = _first_messages(mc.OUTPUT_CARRIERS, OUTPUT, span, attrs, indexed, max_chars)
    return inputs, outputs, _retrieval_documents(attrs, indexed.get(cv.RETRIEVAL_PREFIX), max_chars)


def extract_log_messages(records: list[Any], max_chars: int = 32768
                         ) -> dict[tuple[str, str], dict[str, list[Message]]]:
    """Messages carried by GenAI events sent as OTLP log records, keyed by (trace_id, span_id)."""
    found: dict[tuple[str, str], dict[str, list[Message]]] = {}
    for record in records:
        attributes = record.attributes if isinstance(record.attributes, dict) else {}
        name = record.event_name if isinstance(record.event_name, str) else ""
        pairs = _event_messages(name, record.body, attributes, max_chars)
        if pairs:
            slot = found.setdefault((record.trace_id, record.span_id), {INPUT: [], OUTPUT: []})
            for side, message in pairs:
                slot[side].append(message)
    return found


def collect_indexed(attrs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`prefix.{i}.rest` attributes grouped by prefix (one pass, C-level prefix test per key)."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        if isinstance(key, str) and key.startswith(mc.INDEXED_PREFIXES):
            prefix = next(p for p in mc.INDEXED_PREFIXES if key.startswith(p))
            found.setdefault(prefix, {})[key[len(prefix):]] = value
    return found


def _first_messages(carriers: tuple[tuple[str, str], ...], side: str, span: Any, attrs: dict[str, Any],
                    indexed: dict[str, dict[str, Any]], max_chars: int) -> list[Message]:
    for kind, key in carriers:
        if kind == "events":
            found = _event_carrier(span.events, side, max_chars)
        elif kind == "indexed":
            found = _indexed_messages(indexed[key], side, max_chars) if key in indexed else []
        elif key not in attrs:
            continue
        elif kind == "parts":
            found = _parts_carrier(attrs, key, side, max_chars)
        elif kind == "vercel":
            found = _vercel_response(attrs, max_chars)
        else:
            found = _json_messages(attrs[key], side, max_chars)
        if found:
            return found
    return []


def _parts_carrier(attrs: dict[str, Any], key: str, side: str, max_chars: int) -> list[Message]:
    messages = _messages_from(_structured(attrs.get(key)), side, max_chars)
    if side == INPUT and not any(m["role"] == "system" for m in messages):
        system = _system_message(attrs.get(mc.SYSTEM_INSTRUCTIONS), max_chars)
        messages = [system, *messages] if system else messages
    return messages


def _system_message(raw: Any, max_chars: int) -> Message | None:
    parts = _structured(raw)
    if parts is None:
        return None
    text, _, _, _ = _content_of(parts)
    return {"role": "system", "content": clip(text, max_chars)} if text else None


def _structured(raw: Any) -> Any:
    return raw if isinstance(raw, list | dict) else loads(raw)


def _json_messages(raw: Any, side: str, max_chars: int) -> list[Message]:
    """A payload that may be messages, a request/response object, or plain text."""
    data = raw
    if isinstance(raw, str) and raw.lstrip()[:1] in ("[", "{", '"'):
        parsed = loads(raw)
        data = raw if parsed is None or parsed == "" else parsed
    if isinstance(data, dict):
        data = _unwrap_payload(data, side)
    if isinstance(data, list) and data and all(isinstance(m, dict) for m in data):
        return _messages_from(data, side, max_chars)
    message = _message({"content": data}, _DEFAULT_ROLE[side], max_chars)
    return [message] if message else []


def _unwrap_payload(data: dict[str, Any], side: str) -> Any:
    """Request bodies ({system, messages | prompt | input}) and responses ({choices}) → messages."""
    if isinstance(data.get("choices"), list):
        return [{**c["message"], "finish_reason": c.get("finish_reason")} for c in data["choices"]
                if isinstance(c, dict) and isinstance(c.get("message"), dict)]
    if any(key in data for key in ("role", "parts", "content")):
        return [data]
    system = [{"role": "system", "content": data["system"]}] if isinstance(data.get("system"), str) else []
    if isinstance(data.get("messages"), list):
        return [*system, *data["messages"]]
    for key in ("prompt", "input", "text"):
        value = data.get(key)
        if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            return [*system, {"role": _DEFAULT_ROLE[side], "content": value}]
    return [*system, {"role": _DEFAULT_ROLE[side], "content": dumps(data)}] if system else dumps(data)


def _messages_from(data: Any, side: str, max_chars: int) -> list[Message]:
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return []
    messages = (_message(item, _DEFAULT_ROLE[side], max_chars) for item in data if isinstance(item, dict))
    return [m for m in messages if m]


def _message(item: dict[str, Any], default_role: str, max_chars: int) -> Message | None:
    """One message in our shape from OTel parts, OpenAI, Vercel or event-body dicts; None if empty."""
    parts = item.get("parts") if isinstance(item.get("parts"), list) else item.get("content")
    text, tool_calls, answered, marks = _content_of(parts)
    tool_calls += [c for c in map(_tool_call, _as_list(item.get("tool_calls"))) if c]
    refusal = item.get("refusal")
    if isinstance(refusal, str) and refusal:  # OpenAI: a refused structured output has no content
        text, marks = text or refusal, marks | REFUSAL_MARK
    if not text and not tool_calls:
        return None
    role = as_text(item.get("role")) or default_role
    message: Message = {"role": role, "content": clip(text, max_chars)}
    marks |= _item_marks(item)
    if marks & TOOL_ERROR_MARK:
        message["is_error"] = True
    if marks & REFUSAL_MARK:
        message["refusal"] = True
    if tool_calls:
        message["tool_calls"] = [{k: clip(v, max_chars) for k, v in call.items()} for call in tool_calls]
    if name := as_text(item.get("name")):
        message["name"] = name
    if role == "tool" and (call_id := as_text(item.get("tool_call_id") or item.get("id") or answered)):
        message["tool_call_id"] = call_id
    if reason := as_text(item.get("finish_reason")):
        message["finish_reason"] = reason
    return message


def _as_list(value: Any) -> list[Any]:
    value = _structured(value) if isinstance(value, str) else value
    return value if isinstance(value, list) else []


def _item_marks(item: dict[str, Any]) -> int:
    """A whole message marked as a failed tool result (LangChain's ToolMessage `status`, `is_error`)."""
    if item.get("is_error") is True or item.get("isError") is True or item.get("status") == "error":
        return TOOL_ERROR_MARK
    return 0


def _content_of(content: Any) -> tuple[str, list[dict[str, str]], str, int]:
    """(text, tool calls, answered tool call id, marks) of a content value: text, parts list or object."""
    if content is None:
        return "", [], "", 0
    if isinstance(content, str):
        return content, [], "", 0
    if isinstance(content, dict):
        content = [content]
    if not isinstance(content, list):
        return dumps(content), [], "", 0
    texts, calls, answered, marks = [], [], "", 0
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if isinstance(part, str):
            texts.append(part)
        elif kind in _TOOL_CALL_PARTS:
            calls.append(_tool_call(part))
        elif kind in _TOOL_RESULT_PARTS:
            answered = as_text(part.get("id") or part.get("toolCallId")) or answered
            result = _first_present(part, "response", "result", "output", "content")
            marks |= _result_marks(part, result)
            texts.append(_payload_text(result))
        elif isinstance(part, dict) and (kind in _TEXT_PARTS or kind is None):
            texts.append(_payload_text(_first_present(part, "content", "text")))
        elif kind == _REFUSAL_PART:
            marks |= REFUSAL_MARK
            texts.append(_payload_text(_first_present(part, "refusal", "content", "text")) or "[refusal]")
        elif isinstance(kind, str) and kind not in _SKIPPED_PARTS:
            texts.append(f"[{kind}]")  # image, audio, file…: the turn stays visible, the payload does not
    return "\n".join(t for t in texts if t), [c for c in calls if c], answered, marks


def _result_marks(part: dict[str, Any], result: Any) -> int:
    """A tool-result part marked as failed: Anthropic `is_error`, Vercel v4 `isError`, Vercel v5 an
    `error-text` / `error-json` output."""
    failed = part.get("is_error") is True or part.get("isError") is True
    if not failed and isinstance(result, dict):
        failed = result.get("type") in _ERROR_OUTPUTS
    return TOOL_ERROR_MARK if failed else 0


def _first_present(item: dict[str, Any], *keys: str) -> Any:
    for key in keys:  # a plain loop: this runs for every part of every message on the hot path
        value = item.get(key)
        if value is not None:
            return value
    return None


def _payload_text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else dumps(value)


def _tool_call(call: Any) -> dict[str, str] | None:
    """{id, name, arguments} from OpenAI ({function: {…}}), OTel parts or Vercel tool-call shapes."""
    if not isinstance(call, dict):
        return None
    nested = call.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else call
    name = as_text(function.get("name") or call.get("toolName"))
    arguments = _first_present(function, "arguments", "args", "input")
    if not name and arguments is None:
        return None
    call_id = as_text(call.get("id") or call.get("toolCallId")) or ""
    return {"id": call_id, "name": name or "", "arguments": _payload_text(arguments)}


def _vercel_response(attrs: dict[str, Any], max_chars: int) -> list[Message]:
    """`ai.response.text` plus `ai.response.toolCalls` ([{toolCallId, toolName, args|input}])."""
    calls = [c for c in _as_list(attrs.get(mc.VERCEL_TOOL_CALLS)) if isinstance(c, dict)]
    text = as_text(attrs.get(mc.VERCEL_RESPONSE_TEXT)) or ""
    message = _message({"content": text, "tool_calls": calls}, "assistant", max_chars)
    return [message] if message else []


def _indexed_messages(flat: dict[str, Any], side: str, max_chars: int) -> list[Message]:
    """OpenLLMetry `gen_ai.prompt.{i}.*` / OpenInference `llm.input_messages.{i}.message.*`."""
    messages = []
    for group in _split_index(flat):
        group = {k.removeprefix("message."): v for k, v in group.items()}
        contents = [c.get("message_content.text") for c in _split_index(_subkeys(group, "contents."))]
        calls = [{k.removeprefix("tool_call."): v for k, v in c.items()}
                 for c in _split_index(_subkeys(group, "tool_calls."))]
        text = _typed_parts(group.get("content")) or "\n".join(t for t in contents if isinstance(t, str))
        item = {**group, "content": text, "tool_calls": [_nest_function(c) for c in calls]}
        if message := _message(item, _DEFAULT_ROLE[side], max_chars):
            messages.append(message)
    return messages


def _typed_parts(content: Any) -> Any:
    """OpenLLMetry writes a multimodal message's content as a JSON list of typed parts: read as
    parts, its text stays and an image's base64 does not become the message text."""
    if not (isinstance(content, str) and content.lstrip().startswith("[{")):
        return content
    parts = loads(content)
    if isinstance(parts, list) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in parts):
        return parts
    return content


def _subkeys(group: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {key[len(prefix):]: value for key, value in group.items() if key.startswith(prefix)}


def _nest_function(call: dict[str, Any]) -> dict[str, Any]:
    """Flattened tool call (`function.name` or `name`) → the OpenAI {id, function: {…}} shape."""
    function = {k.removeprefix("function."): v for k, v in call.items()
                if k in ("function.name", "function.arguments", "name", "arguments")}
    return {"id": call.get("id"), "function": function}


def _split_index(flat: dict[str, Any]) -> list[dict[str, Any]]:
    """{"0.role": …, "1.content": …} → [{"role": …}, {"content": …}] in index order."""
    groups: dict[int, dict[str, Any]] = {}
    for key, value in flat.items():
        index, _, rest = key.partition(".")
        if index.isdigit() and rest:
            groups.setdefault(int(index), {})[rest] = value
    return [groups[i] for i in sorted(groups)]


def _event_carrier(events: Any, side: str, max_chars: int) -> list[Message]:
    messages: list[Message] = []
    for event in events:
        for event_side, message in _event_messages(event.name, event.attributes, event.attributes, max_chars):
            if event_side == side:
                messages.append(message)
    return messages


def _event_messages(name: str, body: Any, attributes: dict[str, Any], max_chars: int
                    ) -> list[tuple[str, Message]]:
    """(side, message) pairs of one GenAI event, whether it came as a span event or a log record."""
    if name in mc.MESSAGE_EVENTS:
        side, role = mc.MESSAGE_EVENTS[name]
        payload = _structured(attributes.get(mc.EVENT_CONTENT)) or body
        message = _event_body_message(payload, role, max_chars) if isinstance(payload, dict) else None
        return [(side, message)] if message else []
    if name in mc.CONTENT_EVENTS:
        side, key = mc.CONTENT_EVENTS[name]
        if key not in attributes:
            return []
        return [(side, m) for m in _json_messages(attributes[key], side, max_chars)]
    if name == mc.OPERATION_DETAILS_EVENT:
        return _details_messages(attributes, body, max_chars)
    return []


def _event_body_message(body: dict[str, Any], role: str, max_chars: int) -> Message | None:
    if isinstance(body.get("message"), dict):  # gen_ai.choice
        body = {**body["message"], "finish_reason": body.get("finish_reason")}
    return _message(body, role, max_chars)


def _details_messages(attributes: dict[str, Any], body: Any, max_chars: int) -> list[tuple[str, Message]]:
    """`gen_ai.client.inference.operation.details`: structured messages in attributes (or body)."""
    source = attributes if mc.PARTS_INPUT in attributes or mc.PARTS_OUTPUT in attributes else body
    if not isinstance(source, dict):
        return []
    inputs = _parts_carrier(source, mc.PARTS_INPUT, INPUT, max_chars) if mc.PARTS_INPUT in source else []
    outputs = _messages_from(_structured(source.get(mc.PARTS_OUTPUT)), OUTPUT, max_chars)
    return [(INPUT, m) for m in inputs] + [(OUTPUT, m) for m in outputs]


def _retrieval_documents(attrs: dict[str, Any], flat: dict[str, Any] | None, max_chars: int) -> list[dict]:
    """OpenInference `retrieval.documents.{i}.document.*`, else OTel `gen_ai.retrieval.documents`."""
    items: list[Any]  # JSON documents may be anything; only dicts become documents
    if flat:
        items = [{k.removeprefix("document."): v for k, v in group.items()} for group in _split_index(flat)]
    else:
        items = _as_list(attrs.get(cv.RETRIEVAL_JSON))
    documents = [_document(item, max_chars) for item in items if isinstance(item, dict)]
    return [d for d in documents if d["id"] or d["content"]]


def _document(item: dict[str, Any], max_chars: int) -> dict[str, Any]:
    content = clip(_payload_text(item.get("content")), max_chars)
    return {"id": as_text(item.get("id")) or "", "content": content, "score": as_float(item.get("score"))}
