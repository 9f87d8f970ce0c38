"""Send one `Notification` to one channel with the shared retry policy; a result, never an exception.

The alert engine records the returned `HttpResult` as the delivery log. Channel URLs are
secrets (a Slack webhook URL is its own credential), so they are scrubbed from the result's
error text and never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import requests

from detectors.notify.message import ChannelTarget, Notification
from detectors.notify.pagerduty import PAGERDUTY_EVENTS_URL, pagerduty_payload
from detectors.notify.slack import slack_payload
from detectors.notify.webhook import SIGNATURE_HEADER, sign_body, webhook_body
from detectors.outbound import HttpResult, RetryPolicy, Sleep, post_json

log = logging.getLogger(__name__)
Clock = Callable[[], float]
Sender = Callable[[ChannelTarget, Notification, RetryPolicy, requests.Session | None, Sleep, Clock], HttpResult]
REDACTED = "<redacted>"
DEFAULT_POLICY = RetryPolicy()


def deliver(target: ChannelTarget, n: Notification, *, policy: RetryPolicy = DEFAULT_POLICY,
            session: requests.Session | None = None, sleep: Sleep = time.sleep,
            clock: Clock = time.time) -> HttpResult:
    """POST `n` to `target` in its channel's format; `clock` is the webhook signature's time."""
    send = _SENDERS.get(target.type)
    if send is None:
        return _refused(f"unknown channel type {target.type!r}: expected one of {', '.join(sorted(_SENDERS))}")
    problem = _missing_setting(target)
    if problem:
        return _refused(problem)
    result = _redact(send(target, n, policy, session, sleep, clock), target)
    _log(target, n, result)
    return result


def channel_url(target: ChannelTarget) -> str:
    """Where a target's events go: its own URL, or PagerDuty's public endpoint when it has none."""
    if target.type == "pagerduty" and not target.url:
        return PAGERDUTY_EVENTS_URL
    return target.url


def _send_slack(target: ChannelTarget, n: Notification, policy: RetryPolicy,
                session: requests.Session | None, sleep: Sleep, clock: Clock) -> HttpResult:
    return post_json(channel_url(target), slack_payload(n), policy=policy, session=session, sleep=sleep)


def _send_pagerduty(target: ChannelTarget, n: Notification, policy: RetryPolicy,
                    session: requests.Session | None, sleep: Sleep, clock: Clock) -> HttpResult:
    payload = pagerduty_payload(n, target.routing_key)
    return post_json(channel_url(target), payload, policy=policy, session=session, sleep=sleep)


def _send_webhook(target: ChannelTarget, n: Notification, policy: RetryPolicy,
                  session: requests.Session | None, sleep: Sleep, clock: Clock) -> HttpResult:
    """The signed bytes go out verbatim (`data=`): re-serialising would break the signature.

    A target without a secret is sent unsigned rather than signed with an empty key, which
    would only look like protection.
    """
    body = webhook_body(n)
    headers = {SIGNATURE_HEADER: sign_body(body, target.secret, int(clock()))} if target.secret else {}
    return post_json(channel_url(target), None, data=body, headers=headers, policy=policy,
                     session=session, sleep=sleep)


_SENDERS: dict[str, Sender] = {"slack": _send_slack, "pagerduty": _send_pagerduty, "webhook": _send_webhook}


def _missing_setting(target: ChannelTarget) -> str:
    """What a target lacks before anything can be sent, said so the user knows what to fill in."""
    if not channel_url(target):
        return f"{target.type} channel {target.name or '(unnamed)'} has no URL"
    if target.type == "pagerduty" and not target.routing_key:
        return f"pagerduty channel {target.name or '(unnamed)'} has no routing key"
    return ""


def _refused(error: str) -> HttpResult:
    """A delivery that was never attempted: not ok, zero attempts."""
    return HttpResult(ok=False, status=None, attempts=0, error=error, body="", elapsed=0.0)


def _redact(result: HttpResult, target: ChannelTarget) -> HttpResult:
    """Remove the URL and its path (requests puts the path in connection errors) from the error."""
    if not result.error:
        return result
    error = result.error
    for secret in _url_secrets(target):
        error = error.replace(secret, REDACTED)
    return replace(result, error=error)


def _url_secrets(target: ChannelTarget) -> list[str]:
    parts = urlsplit(target.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    candidates = [target.url, path, parts.path, target.routing_key, target.secret]
    return sorted({c for c in candidates if len(c) > 1}, key=len, reverse=True)


def _log(target: ChannelTarget, n: Notification, result: HttpResult) -> None:
    level = logging.INFO if result.ok else logging.WARNING
    log.log(level, "notify %s %s channel=%s type=%s ok=%s status=%s attempts=%d elapsed=%.2fs %s",
            n.event, n.incident_id, target.name or "-", target.type, result.ok, result.status,
            result.attempts, result.elapsed, result.error)
