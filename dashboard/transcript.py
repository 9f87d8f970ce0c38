"""A conversation as one transcript, from the calls of its traces in order.

One trace is one exchange: its first call holds what the user asked (after the history the app
resends), its last call with an answer holds what the user was told. The calls between (a query
rewrite, a tool loop, a prompt stuffed with retrieved documents) are the app's own traffic and stay
in the trace view. A turn of the first call's input is new when that call holds more copies of it
than the transcript has seen: a history resent adds nothing, a user who says "yes" twice keeps both.
Only user and assistant turns with text are kept.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

CONVERSATION_ROLES = ("user", "assistant")


def message_text(message: Any) -> str:
    """A message's text: `content`, or its text parts (the OTel parts form); '' when it has none."""
    if not isinstance(message, dict):
        return "" if message is None else str(message)
    content = message.get("content")
    if content is None and isinstance(message.get("parts"), list):
        content = "\n".join(str(p.get("content", "")) for p in message["parts"]
                            if isinstance(p, dict) and p.get("content") is not None)
    if isinstance(content, list):  # a content list of text blocks
        content = "\n".join(str(block.get("text", "")) if isinstance(block, dict) else str(block) for block in content)
    return "" if content is None else str(content)


def transcript(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns in order: {role, text, trace_id, span_id, time}. `calls` are in time order, each with
    `input_messages` and `output_messages` as lists (carried log-record messages merged in)."""
    turns: list[dict[str, Any]] = []
    seen: Counter[tuple[str, str]] = Counter()
    for trace in _by_trace(calls):
        _add_new(turns, seen, _turns(trace[0]["input_messages"]), trace[0])
        answer = next((c for c in reversed(trace) if _turns(c["output_messages"], default_role="assistant")), None)
        for turn in _turns(answer["output_messages"], default_role="assistant") if answer else []:
            turns.append(_turn(turn, answer))
            seen[turn] += 1
    return turns


def _by_trace(calls: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The calls grouped by trace, traces in the order of their first call."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        grouped.setdefault(call["trace_id"], []).append(call)
    return list(grouped.values())


def _add_new(turns: list[dict[str, Any]], seen: Counter[tuple[str, str]], asked: list[tuple[str, str]],
             call: dict[str, Any]) -> None:
    """The input's turns beyond what the transcript already holds: the n-th copy of a turn in the
    input is new when the transcript held fewer than n before this call."""
    before, occurrence = Counter(seen), Counter[tuple[str, str]]()
    for turn in asked:
        occurrence[turn] += 1
        if occurrence[turn] > before[turn]:
            turns.append(_turn(turn, call))
            seen[turn] += 1


def _turns(messages: list[Any], default_role: str = "") -> list[tuple[str, str]]:
    out = []
    for message in messages:
        role = str(message.get("role") or default_role) if isinstance(message, dict) else default_role
        text = message_text(message).strip()
        if role in CONVERSATION_ROLES and text:
            out.append((role, text))
    return out


def _turn(turn: tuple[str, str], call: dict[str, Any]) -> dict[str, Any]:
    return {"role": turn[0], "text": turn[1], "trace_id": call["trace_id"], "span_id": call["span_id"],
            "time": call["start_time"]}
