"""`deliver`: one channel of each type against a real local receiver, and the refusals."""

from __future__ import annotations

import logging

import pytest

from detectors.notify import (
    PAGERDUTY_EVENTS_URL,
    SIGNATURE_HEADER,
    ChannelTarget,
    channel_url,
    deliver,
    pagerduty_payload,
    slack_payload,
    verify_signature,
    webhook_body,
)
from detectors.outbound import RetryPolicy
from tests.receiver import Receiver, Reply
from tests.unit.detectors.test_notify_slack import make_notification
from tests.unit.detectors.test_outbound import Sleeps, closed_port_url

ONCE = RetryPolicy(attempts=1)
NOW = 1_735_787_100


def test_slack(receiver: Receiver) -> None:
    n = make_notification()
    result = deliver(ChannelTarget("slack", receiver.url + "/services/T/B/X"), n, policy=ONCE)
    assert (result.ok, result.status, result.attempts) == (True, 200, 1)
    assert receiver.wait_for(1)[0].json() == slack_payload(n)


def test_pagerduty(receiver: Receiver) -> None:
    n = make_notification()
    target = ChannelTarget("pagerduty", receiver.url + "/v2/enqueue", routing_key="rk")
    receiver.default = Reply(202, {"status": "success"})
    assert deliver(target, n, policy=ONCE).status == 202
    assert receiver.wait_for(1)[0].json() == pagerduty_payload(n, "rk")


def test_webhook_sends_the_exact_signed_bytes(receiver: Receiver) -> None:
    n = make_notification()
    target = ChannelTarget("webhook", receiver.url + "/hooks/llmpulse", secret="s3cret")
    result = deliver(target, n, policy=ONCE, clock=lambda: NOW)
    assert result.ok
    [recorded] = receiver.wait_for(1)
    assert recorded.path == "/hooks/llmpulse" and recorded.body == webhook_body(n)
    assert recorded.headers["Content-Type"] == "application/json"
    header = recorded.headers[SIGNATURE_HEADER]
    assert header.startswith(f"t={NOW},v1=")
    assert verify_signature(recorded.body, header, "s3cret", now=NOW + 1)


def test_retried_webhook_carries_the_same_signature(receiver: Receiver) -> None:
    receiver.script = [Reply(503), Reply(200)]
    target = ChannelTarget("webhook", receiver.url, secret="s3cret")
    result = deliver(target, make_notification(), policy=RetryPolicy(attempts=3), sleep=Sleeps(), clock=lambda: NOW)
    assert result.ok and result.attempts == 2
    first, second = receiver.wait_for(2)
    assert first.body == second.body and first.headers[SIGNATURE_HEADER] == second.headers[SIGNATURE_HEADER]


def test_webhook_without_a_secret_is_sent_unsigned(receiver: Receiver) -> None:
    assert deliver(ChannelTarget("webhook", receiver.url), make_notification(), policy=ONCE).ok
    assert SIGNATURE_HEADER not in receiver.wait_for(1)[0].headers


def test_unknown_type_is_a_result_not_an_exception(receiver: Receiver) -> None:
    result = deliver(ChannelTarget("teams", receiver.url), make_notification())
    assert (result.ok, result.status, result.attempts) == (False, None, 0)
    assert "unknown channel type 'teams'" in result.error and "slack" in result.error
    assert receiver.requests == []


@pytest.mark.parametrize(("target", "message"), [
    (ChannelTarget("slack", "", name="ops"), "slack channel ops has no URL"),
    (ChannelTarget("webhook", ""), "webhook channel (unnamed) has no URL"),
    (ChannelTarget("pagerduty", "", name="oncall"), "pagerduty channel oncall has no routing key"),
])
def test_incomplete_targets_are_refused_before_sending(target: ChannelTarget, message: str) -> None:
    result = deliver(target, make_notification())
    assert (result.ok, result.attempts, result.error) == (False, 0, message)


def test_pagerduty_without_a_url_goes_to_the_public_endpoint() -> None:
    assert channel_url(ChannelTarget("pagerduty", "", routing_key="rk")) == PAGERDUTY_EVENTS_URL
    assert channel_url(ChannelTarget("pagerduty", "https://eu.example/v2/enqueue")) == "https://eu.example/v2/enqueue"
    assert channel_url(ChannelTarget("slack", "https://hooks.slack.com/x")) == "https://hooks.slack.com/x"


def test_failures_keep_the_secret_url_out_of_the_error_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    url = closed_port_url().replace("/hook", "/services/T0SECRET/B0SECRET/XXXXSECRET")
    caplog.set_level(logging.INFO, logger="detectors.notify.deliver")
    result = deliver(ChannelTarget("slack", url, name="ops"), make_notification(),
                     policy=RetryPolicy(attempts=2), sleep=Sleeps())
    assert (result.ok, result.attempts) == (False, 2)
    assert result.error.startswith("ConnectionError") and "<redacted>" in result.error
    assert "SECRET" not in result.error and "SECRET" not in caplog.text
    assert "channel=ops type=slack ok=False" in caplog.text


def test_delivery_is_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="detectors.notify.deliver")
    deliver(ChannelTarget("webhook", receiver.url + "/x", name="audit"), make_notification(), policy=ONCE)
    assert "notify firing inc-42 channel=audit type=webhook ok=True status=200 attempts=1" in caplog.text
