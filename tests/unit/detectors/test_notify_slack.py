"""Slack messages: valid Block Kit within its limits, escaped mrkdwn, and the bytes Slack receives.

Also the shared human formatting of `detectors.notify.message`, which Slack shows most of, and
`make_notification`, the factory the other notify tests import.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from detectors.notify import ChannelTarget, Notification, deliver, slack_payload
from detectors.notify.message import clip, format_scope, format_value, iso_utc, metric_unit
from detectors.notify.slack import EVENT_STYLES, escape_mrkdwn, escape_within
from detectors.outbound import RetryPolicy
from tests.receiver import Receiver

HOSTILE = "<!channel> & <https://evil.example|click me> <@U123> > quote"
TEXT_TYPES = {"plain_text", "mrkdwn"}
BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}


def make_notification(**overrides: Any) -> Notification:
    """A firing spend alert; tests override what they are about."""
    fields: dict[str, Any] = dict(
        event="firing", incident_id="inc-42", project="checkout", rule_name="Daily spend",
        metric="cost_total", severity="critical", value=12.4, threshold=10.0, comparator=">",
        window="5m", scope={"model": "gpt-4o"}, started_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        dashboard_url="https://pulse.example.com/alerts/inc-42", summary="Spend $12.40 is over $10.00",
    )
    return Notification(**{**fields, **overrides})


# --- a small Block Kit validator: the rules Slack enforces on messages we build --------------


def block_kit_problems(message: dict[str, Any]) -> list[str]:
    """Every way `message` breaks the Block Kit rules we rely on; empty when it is valid."""
    problems = [] if isinstance(message.get("text"), str) and message["text"] else ["top-level text missing"]
    blocks = list(message.get("blocks", []))
    for attachment in message.get("attachments", []):
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", attachment.get("color", "")):
            problems.append(f"attachment colour {attachment.get('color')!r}")
        blocks += attachment.get("blocks", [])
    if not 0 < len(blocks) <= 50:
        problems.append(f"{len(blocks)} blocks (1..50 allowed)")
    for block in blocks:
        problems += [f"{block.get('type')}: {p}" for p in _block_problems(block)]
    return problems


def _block_problems(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return [f"unknown block type {kind!r}"]
    if len(block.get("block_id", "")) > 255:
        return ["block_id over 255"]
    if kind == "header":
        return _text_problems(block.get("text"), 150, only="plain_text")
    if kind == "section":
        return _section_problems(block)
    if kind == "context":
        elements = block.get("elements", [])
        problems = [] if 0 < len(elements) <= 10 else [f"{len(elements)} context elements"]
        return problems + [p for e in elements for p in _text_problems(e, 3000)]
    if kind == "actions":
        return [p for e in block.get("elements", []) for p in _button_problems(e)]
    return []


def _section_problems(block: dict[str, Any]) -> list[str]:
    if "text" not in block and "fields" not in block:
        return ["section needs text or fields"]
    problems = _text_problems(block["text"], 3000) if "text" in block else []
    fields = block.get("fields", [])
    if len(fields) > 10:
        problems.append(f"{len(fields)} fields (10 allowed)")
    return problems + [p for f in fields for p in _text_problems(f, 2000)]


def _button_problems(element: dict[str, Any]) -> list[str]:
    if element.get("type") != "button":
        return [f"element {element.get('type')!r}"]
    problems = _text_problems(element.get("text"), 75, only="plain_text")
    return problems + (["button url over 3000"] if len(element.get("url", "")) > 3000 else [])


def _text_problems(obj: Any, limit: int, only: str | None = None) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ({only} if only else TEXT_TYPES):
        return [f"bad text object {obj!r:.80}"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return ["empty text"]
    problems = [f"text of {len(text)} chars over {limit}"] if len(text) > limit else []
    if "emoji" in obj and obj["type"] != "plain_text":
        problems.append("emoji on mrkdwn")
    if "verbatim" in obj and obj["type"] != "mrkdwn":
        problems.append("verbatim on plain_text")
    return problems


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    """The top-level text and every mrkdwn text object, wherever it sits."""
    found = [message["text"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks", []))
    walk(message.get("attachments", []))
    return found


def unescaped_control(text: str) -> list[str]:
    """`<…>` spans other than the ones the builder writes on purpose (dashboard link, date)."""
    spans = re.findall(r"<[^>]*>", text)
    allowed = re.compile(r"<(https://pulse\.example\.com[^|>]*\|Open in llmpulse|!date\^\d+\^[^|>]*\|[^>]*)>")
    return [s for s in spans if not allowed.fullmatch(s)]


# --- the payload ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["firing", "resolved", "test"])
def test_payload_is_valid_block_kit(event: str) -> None:
    message = slack_payload(make_notification(event=event))
    assert block_kit_problems(message) == []
    assert message["blocks"][0]["type"] == "header"
    assert EVENT_STYLES[event].emoji in message["blocks"][0]["text"]["text"]
    assert message["attachments"][0]["color"] == EVENT_STYLES[event].color


def test_the_validator_catches_what_slack_would_reject() -> None:
    """The validator is only worth its passes if it fails broken messages."""
    broken = slack_payload(make_notification())
    broken["blocks"][0]["text"] = {"type": "mrkdwn", "text": "x" * 151}
    broken["blocks"][2]["fields"] *= 2
    broken["blocks"].append({"type": "section", "text": {"type": "plain_text", "text": "y" * 3001}})
    broken["blocks"].append({"type": "carousel"})
    broken["attachments"][0]["color"] = "red"
    problems = "\n".join(block_kit_problems(broken))
    for expected in ("bad text object", "14 fields", "3001 chars", "carousel", "attachment colour"):
        assert expected in problems
    assert block_kit_problems({"blocks": [{"type": "divider"}] * 51}) == ["top-level text missing",
                                                                           "51 blocks (1..50 allowed)"]


def test_events_look_different() -> None:
    styles = {(s.emoji, s.color) for s in EVENT_STYLES.values()}
    assert len(styles) == 3
    headers = {slack_payload(make_notification(event=e))["blocks"][0]["text"]["text"] for e in EVENT_STYLES}
    assert len(headers) == 3


def test_fields_tell_value_threshold_and_context() -> None:
    message = slack_payload(make_notification(scope={"model": "gpt-4o", "user": "u1"}))
    fields = "\n".join(f["text"] for f in message["blocks"][2]["fields"])
    assert "$12.40 &gt; $10.00" in fields
    for expected in ("critical", "5m", "model=gpt-4o, user=u1", "checkout", "cost_total", "2025-01-02T03:04:05Z"):
        assert expected in fields
    assert "<!date^1735787045^" in fields


def test_dashboard_link_is_in_the_summary_section() -> None:
    text = slack_payload(make_notification())["blocks"][1]["text"]["text"]
    assert "<https://pulse.example.com/alerts/inc-42|Open in llmpulse>" in text
    assert "Spend $12.40 is over $10.00" in text


def test_no_dashboard_url_means_no_link() -> None:
    message = slack_payload(make_notification(dashboard_url=""))
    assert block_kit_problems(message) == []
    assert "<" not in message["blocks"][1]["text"]["text"]


def test_link_url_cannot_break_out_of_the_link() -> None:
    text = slack_payload(make_notification(dashboard_url="https://pulse.example.com/a?x=1|evil&y=<2>"))
    section = text["blocks"][1]["text"]["text"]
    assert "<https://pulse.example.com/a?x=1%7Cevil&amp;y=&lt;2&gt;|Open in llmpulse>" in section


def test_hostile_names_are_escaped_in_every_mrkdwn_text() -> None:
    message = slack_payload(make_notification(rule_name=HOSTILE, summary=HOSTILE, project="p&<q>",
                                              scope={"model": HOSTILE}, incident_id="<x>"))
    assert block_kit_problems(message) == []
    for text in mrkdwn_texts(message):
        assert "<!channel>" not in text and "<@U123>" not in text
        assert unescaped_control(text) == [], text
        assert re.search(r"&(?!amp;|lt;|gt;)", text) is None, text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click me&gt;" in message["text"]


def test_header_is_plain_text_not_escaped() -> None:
    header = slack_payload(make_notification(rule_name="a < b & c"))["blocks"][0]["text"]
    assert header["type"] == "plain_text" and header["text"].endswith("a < b & c")


def test_very_long_values_stay_within_limits() -> None:
    scope = {f"tag{i}": "&" * 300 for i in range(40)}
    n = make_notification(rule_name="R&" * 2000, summary="<" * 5000, scope=scope, incident_id="i" * 4000,
                          window="w" * 3000, project="p" * 2500)
    message = slack_payload(n)
    assert block_kit_problems(message) == []
    assert message["blocks"][0]["text"]["text"].endswith("…")
    assert len(message["blocks"][0]["text"]["text"]) == 150


def test_delivered_body_equals_the_payload(receiver: Receiver) -> None:
    n = make_notification(rule_name=HOSTILE)
    target = ChannelTarget("slack", receiver.url + "/services/T000/B000/XXXX", name="ops")
    result = deliver(target, n, policy=RetryPolicy(attempts=1))
    assert result.ok, result.error
    [recorded] = receiver.wait_for(1)
    assert recorded.path == "/services/T000/B000/XXXX"
    assert recorded.json() == slack_payload(n)


# --- escaping helpers ------------------------------------------------------------------------


def test_escape_mrkdwn_only_touches_the_three_control_characters() -> None:
    assert escape_mrkdwn("a & b < c > d * _ ~ `'\"") == "a &amp; b &lt; c &gt; d * _ ~ `'\""


@pytest.mark.parametrize("limit", [1, 2, 5, 6, 7, 50])
def test_escape_within_never_cuts_an_entity(limit: int) -> None:
    text = escape_within("&&&&&&&&&&&&&&&&", limit)
    assert len(text) <= limit
    assert re.fullmatch(r"(&amp;)*…?", text)


def test_escape_within_keeps_short_text_whole() -> None:
    assert escape_within("a<b", 10) == "a&lt;b"


# --- shared human formatting (detectors/notify/message.py) ----------------------------------


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("cost_total", 1234.5, "$1,234.50"),
    ("cost_total", 0.5, "$0.50"),
    ("cost_per_request", 0.0042, "$0.0042"),
    ("cost_per_request", 0.01234, "$0.0123"),
    ("projected_spend", 0.0, "$0.00"),
    ("latency_p95_ms", 1250.3, "1,250 ms"),
    ("ttft_p50_ms", 3.21, "3.2 ms"),
    ("error_rate", 0.125, "12.5%"),
    ("hallucination_rate", 0.03, "3.0%"),
    ("cache_hit_rate", 1.0, "100.0%"),
    ("budget_used_pct", 87.5, "87.5%"),
    ("drift", 0.123456, "0.1235"),
    ("cost_total", None, "n/a"),
    ("cost_total", float("nan"), "n/a"),
    ("error_rate", float("inf"), "n/a"),
])
def test_format_value(metric: str, value: float | None, text: str) -> None:
    assert format_value(metric, value) == text


def test_metric_units_come_from_the_table_then_the_suffix() -> None:
    assert [metric_unit(m) for m in ("cost_total", "p99_ms", "refusal_rate", "x_pct", "spend_usd", "drift", "odd")] \
        == ["usd", "ms", "fraction", "percent", "usd", "plain", "plain"]


def test_scope_times_and_clipping() -> None:
    assert format_scope({}) == "all"
    assert format_scope({"user": "u1", "model": "m"}) == "model=m, user=u1"
    assert iso_utc(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05Z"
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


@pytest.mark.parametrize(("field", "value"), [("event", "fired"), ("severity", "high"), ("comparator", "==")])
def test_notification_refuses_values_no_channel_can_render(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        make_notification(**{field: value})
