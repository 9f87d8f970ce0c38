"""The trace view's field table: a count the collector refused reads as refused, with its reason."""

from __future__ import annotations

from dashboard.ui.pages.trace_view import message_turn
from dashboard.ui.span_fields import field_text
from schemas import fields as f

REASON = "span 'chat': gen_ai.usage.input_tokens=9223372036854775807 is not a token count"


def test_a_refused_count_shows_its_reason_not_none() -> None:
    span = {f.INPUT_TOKENS: None, f.OUTPUT_TOKENS: 12, "attributes": {f.REFUSED_ATTRIBUTE: REASON}}
    assert field_text(span, f.INPUT_TOKENS) == f"refused: {REASON}"
    assert field_text(span, f.OUTPUT_TOKENS) == "12"


def test_a_missing_value_is_a_dash() -> None:
    span = {f.INPUT_TOKENS: None, f.TTFT_MS: None, "attributes": {}}
    assert field_text(span, f.INPUT_TOKENS) == "\u2013"
    assert field_text(span, f.TTFT_MS) == "\u2013"


def _texts(component: object) -> list[str]:
    """Every string a component tree renders, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    children = children if isinstance(children, list) else [children]
    return [text for child in children if child is not None for text in _texts(child)]


def test_an_assistant_turn_of_tool_calls_shows_each_call() -> None:
    """The model answered with calls only (content ''): the turn names each tool with its arguments."""
    message = {"role": "assistant", "content": "", "finish_reason": "tool_calls",
               "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": '{"order_id":"A-1"}'},
                              {"id": "call_2", "name": "list_payments", "arguments": {"order_id": "A-1"}}]}
    texts = _texts(message_turn(message))
    assert 'lookup_order({"order_id":"A-1"})' in texts and 'list_payments({"order_id": "A-1"})' in texts
    assert "" not in texts  # no empty content box


def test_a_tool_result_says_which_call_it_answers() -> None:
    texts = _texts(message_turn({"role": "tool", "content": "{\"status\": \"paid\"}", "tool_call_id": "call_1"}))
    assert texts[0] == "tool · result of call_1" and '{"status": "paid"}' in texts
    assert _texts(message_turn("plain text")) == ["", "plain text"]
