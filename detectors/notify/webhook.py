"""A `Notification` as a signed JSON webhook, and the check a receiver runs on it.

Body (UTF-8 JSON, keys sorted, no insignificant whitespace; version 1):

    schema_version  1
    event           "firing" | "resolved" | "test"
    incident_id     str
    project         str
    rule_name       str
    metric          str
    severity        "critical" | "error" | "warning" | "info"
    value           number | null   (null when unknown or not finite)
    threshold       number | null
    comparator      ">" | ">=" | "<" | "<="
    window          str, e.g. "5m"
    scope           {filter: value}
    started_at      ISO-8601 UTC, e.g. "2025-01-02T03:04:05Z"
    dashboard_url   str
    summary         str
    value_text      str, the value as llmpulse shows it, e.g. "$12.40"
    threshold_text  str

Signature header `X-Llmpulse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
`f"{t}.".encode() + body`, keyed by the channel secret. Signing the timestamp with the body
lets a receiver refuse replays of an old delivery; it should also refuse a `t` more than five
minutes from its own clock (`verify_signature` does both, in constant time). Several `v1=`
entries may appear while a secret is being rotated; any one of them may match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from detectors.notify.message import Notification, finite, format_value, iso_utc

SIGNATURE_HEADER = "X-Llmpulse-Signature"
SCHEMA_VERSION = 1
DEFAULT_TOLERANCE = 300  # seconds between signing and verifying


def webhook_document(n: Notification) -> dict[str, Any]:
    """The webhook body as a dict, with the documented keys above."""
    return {
        "schema_version": SCHEMA_VERSION,
        "event": n.event,
        "incident_id": n.incident_id,
        "project": n.project,
        "rule_name": n.rule_name,
        "metric": n.metric,
        "severity": n.severity,
        "value": finite(n.value),
        "threshold": finite(n.threshold),
        "comparator": n.comparator,
        "window": n.window,
        "scope": dict(n.scope),
        "started_at": iso_utc(n.started_at),
        "dashboard_url": n.dashboard_url,
        "summary": n.summary,
        "value_text": format_value(n.metric, n.value),
        "threshold_text": format_value(n.metric, n.threshold),
    }


def webhook_body(n: Notification) -> bytes:
    """The exact bytes that are signed and sent: deterministic, so one signature covers all retries."""
    text = json.dumps(webhook_document(n), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return text.encode("utf-8")


def sign_body(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={int(timestamp)},v1={_digest(body, secret, int(timestamp))}"


def verify_signature(body: bytes, header: str, secret: str, now: float,
                     tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """True when `header` signs `body` with `secret` within `tolerance` seconds of `now`; never raises."""
    parsed = _parse_header(header)
    if parsed is None or abs(now - parsed[0]) > tolerance:
        return False
    expected = _digest(body, secret, parsed[0])
    return any(hmac.compare_digest(expected, candidate) for candidate in parsed[1])


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int, list[str]] | None:
    """(timestamp, v1 signatures) from "t=…,v1=…", or None when the header is malformed."""
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value.isascii():
            signatures.append(value)
    return (timestamp, signatures) if timestamp is not None and signatures else None
