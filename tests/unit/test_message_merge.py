"""The same chat turn from a span and from its log record is one turn (issue #20, item 4)."""

from __future__ import annotations

from dashboard.message_merge import merge_carried

SYSTEM = {"role": "system", "content": "You are terse."}
YES = {"role": "user", "content": "yes"}
OK = {"role": "assistant", "content": "ok"}
ANSWER = {"role": "assistant", "content": "Paris", "finish_reason": "stop"}


def test_a_record_repeating_the_span_adds_nothing() -> None:
    assert merge_carried([SYSTEM, YES], [SYSTEM, YES]) == [SYSTEM, YES]
    # a carrier's extra field (the record's finish reason) does not make another turn
    assert merge_carried([{"role": "assistant", "content": "Paris"}], [ANSWER]) == [
        {"role": "assistant", "content": "Paris"}]


def test_a_turn_said_twice_in_the_conversation_stays_twice() -> None:
    history = [YES, OK, YES]
    assert merge_carried(history, list(history)) == history
    assert merge_carried([], history) == history  # EVENT_ONLY: the records are all there is
    assert merge_carried(history, []) == history  # SPAN_ONLY


def test_what_only_the_record_has_follows_the_span() -> None:
    assert merge_carried([SYSTEM], [SYSTEM, YES]) == [SYSTEM, YES]
    # not a copy at its position: kept
    assert merge_carried([SYSTEM, YES], [YES]) == [SYSTEM, YES, YES]


def test_tool_calls_tell_turns_with_the_same_text_apart() -> None:
    first = {"role": "assistant", "content": "", "tool_calls": [{"id": "a", "name": "f", "arguments": "{}"}]}
    second = {**first, "tool_calls": [{"id": "b", "name": "g", "arguments": "{}"}]}
    assert merge_carried([first], [second]) == [first, second]
