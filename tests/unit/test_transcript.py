"""A session's transcript: each turn once, in order, across calls that resend the history."""

from __future__ import annotations

from typing import Any

from dashboard.transcript import message_text, transcript


def call(n: int, asked: list[tuple[str, str]], said: str, trace: str = "") -> dict[str, Any]:
    return {"trace_id": trace or f"t{n}", "span_id": f"s{n}", "start_time": n,
            "input_messages": [{"role": role, "content": text} for role, text in asked],
            "output_messages": [{"role": "assistant", "content": said}]}


def texts(calls: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(turn["role"], turn["text"]) for turn in transcript(calls)]


def test_a_resent_history_adds_only_the_new_user_turn() -> None:
    first = call(1, [("system", "be brief"), ("user", "hi")], "hello")
    second = call(2, [("system", "be brief"), ("user", "hi"), ("assistant", "hello"), ("user", "refund?")], "sure")
    assert texts([first, second]) == [("user", "hi"), ("assistant", "hello"), ("user", "refund?"),
                                      ("assistant", "sure")]
    assert [turn["trace_id"] for turn in transcript([first, second])] == ["t1", "t1", "t2", "t2"]


def test_a_turn_said_twice_is_kept_twice_and_a_call_traced_twice_once() -> None:
    first = call(1, [("user", "yes")], "ok")
    second = call(2, [("user", "yes"), ("assistant", "ok"), ("user", "yes")], "ok")
    twin = {**second, "span_id": "s2-copy"}
    assert texts([first, second, twin]) == [("user", "yes"), ("assistant", "ok"), ("user", "yes"),
                                            ("assistant", "ok")]


def test_a_traces_inner_calls_are_left_out_and_its_last_answer_kept() -> None:
    rewrite = call(1, [("user", "Rewrite as a search query: refunds?")], "refund policy", trace="t")
    tool_loop = {**call(2, [("user", "Rewrite as a search query: refunds?")], "", trace="t"), "output_messages": []}
    answer = call(3, [("user", "Query: refunds? Results: ...")], "Refunds take 5 days.", trace="t")
    assert texts([rewrite, tool_loop, answer]) == [("user", "Rewrite as a search query: refunds?"),
                                                   ("assistant", "Refunds take 5 days.")]


def test_apps_that_send_only_the_new_turn_still_read_in_order() -> None:
    calls = [call(1, [("user", "a")], "b"), call(2, [("user", "c")], "d")]
    assert texts(calls) == [("user", "a"), ("assistant", "b"), ("user", "c"), ("assistant", "d")]


def test_parts_and_content_blocks_are_read_and_empty_turns_dropped() -> None:
    assert message_text({"role": "user", "parts": [{"type": "text", "content": "x"}]}) == "x"
    assert message_text({"role": "user", "content": [{"type": "text", "text": "y"}]}) == "y"
    tool_call = {"trace_id": "t", "span_id": "s", "start_time": 1, "input_messages": [{"role": "user", "content": "q"}],
                 "output_messages": [{"role": "assistant", "content": None, "tool_calls": [{"name": "f"}]}]}
    assert texts([tool_call]) == [("user", "q")]


def test_a_root_span_with_the_users_question_and_answer_is_the_exchange() -> None:
    root = {**call(1, [("user", "How long do you keep data?")], "30 days on Free.", trace="t"), "is_root": True,
            "is_call": False}
    rewrite = {**call(2, [("user", "Rewrite as a search query: data?")], "retention", trace="t"), "is_root": False,
               "is_call": True}
    quiet_root = {**call(3, [], "", trace="u"), "output_messages": [], "is_root": True, "is_call": False}
    only_call = {**call(4, [("user", "thanks")], "you're welcome", trace="u"), "is_root": False, "is_call": True}
    assert texts([root, rewrite, quiet_root, only_call]) == [
        ("user", "How long do you keep data?"), ("assistant", "30 days on Free."),
        ("user", "thanks"), ("assistant", "you're welcome")]
