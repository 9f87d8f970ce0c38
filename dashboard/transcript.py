"""A conversation as one transcript, from the calls of its traces in order.

One trace is one exchange. When its root span (the app's own "answer the user" span) holds
messages, they are the exchange; otherwise its first call holds what the user asked (after the
history the app resends) and its last call with an answer what the user was told. The calls
between (a query rewrite, a tool loop, a prompt stuffed with retrieved documents) are the app's
own traffic and stay in the trace view. A turn the user asked is new when the exchange holds more
copies of it than the transcript has seen: a history resent adds nothing, a user who says "yes"
twice keeps both. Only user and assistant turns with text are kept.
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
        asking, answering = _exchange(trace)
        if asking is not None:
            _add_new(turns, seen, _turns(asking["input_messages"]), asking)
        for turn in _said(answering) if answering is not None else []:
            turns.append(_turn(turn, answering))
            seen[turn] += 1
    return turns


def _exchange(trace: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The span that holds what the user asked, and the one that holds the answer they got."""
    root = next((s for s in trace if s.get("is_root") and _turns(s["input_messages"])), None)
    calls = [s for s in trace if s.get("is_call", True)]
    asking = root or (calls[0] if calls else None)
    answered = next((c for c in reversed(calls) if _said(c)), None)
    return asking, root if root is not None and _said(root) else answered


def _said(span: dict[str, Any]) -> list[tuple[str, str]]:
    return _turns(span["output_messages"], default_role="assistant")


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
