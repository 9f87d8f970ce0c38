"""One conversation from the two carriers that may both hold it: the span and its log records.

openai-v2 with `..._CAPTURE_MESSAGE_CONTENT=SPAN_AND_EVENT` writes the same messages as span
attributes and in a `gen_ai.client.inference.operation.details` log record; shown side by side,
every turn appeared twice. A message is a copy when the other carrier has the same message (role,
content, tool calls) at the same position: so a conversation that says "yes" twice keeps both,
while a record that holds only what the span lacks (EVENT_ONLY, per-message events) adds it.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]
_IDENTITY = ("role", "content", "tool_calls", "tool_call_id")


def merge_carried(on_span: list[Any], carried: list[Any]) -> list[Any]:
    """The span's messages, then those of the log records that are not copies of them.

    `carried` is the records' messages in their order; the part of it that repeats the span's
    messages position by position from the start is a copy, the rest follows the span's.
    """
    same = 0
    for mine, theirs in zip(on_span, carried, strict=False):
        if _identity(mine) != _identity(theirs):
            break
        same += 1
    return [*on_span, *carried[same:]]


def _identity(message: Any) -> Any:
    """What makes two messages the same turn; fields a carrier adds (finish reason, name) do not."""
    if not isinstance(message, dict):
        return message
    return tuple(message.get(key) for key in _IDENTITY)
