"""A conversation as one transcript, from the calls of its traces in order.

Each call's input usually repeats the conversation so far (the app resends the history) and adds
the new user turn; its output is the assistant's answer. So a turn is new when the call holds more
copies of it than the transcript has seen: a history resent adds nothing, a user who says "yes"
twice keeps both. A call traced twice (two instrumentations, one answer) adds its answer once.
Only user and assistant turns with text are kept: system prompts and tool traffic are the trace
view's business.
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
    answered: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for call in calls:
        asked = _turns(call["input_messages"])
        said = _turns(call["output_messages"], default_role="assistant")
        signature = (call["trace_id"], tuple(asked + said))
        if signature in answered:
            continue  # the same call traced twice
        answered.add(signature)
        _add_new(turns, seen, asked, call)
        for turn in said:
            turns.append(_turn(turn, call))
            seen[turn] += 1
    return turns


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
