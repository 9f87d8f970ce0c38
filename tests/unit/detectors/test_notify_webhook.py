"""Signed webhooks: the documented body, and a signature that fails on any tampering or replay."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from detectors.notify import SIGNATURE_HEADER, sign_body, verify_signature, webhook_body
from detectors.notify.webhook import webhook_document
from tests.unit.detectors.test_notify_slack import make_notification

SECRET = "whsec_0123456789"
T = 1_735_787_045
DOCUMENTED_KEYS = {
    "schema_version", "event", "incident_id", "project", "rule_name", "metric", "severity", "value",
    "threshold", "comparator", "window", "scope", "started_at", "dashboard_url", "summary", "value_text",
    "threshold_text",
}


def test_header_name() -> None:
    assert SIGNATURE_HEADER == "X-Llmpulse-Signature"


def test_body_has_the_documented_keys_and_iso_times() -> None:
    document = json.loads(webhook_body(make_notification()))
    assert set(document) == DOCUMENTED_KEYS
    assert document["started_at"] == "2025-01-02T03:04:05Z"
    assert document["schema_version"] == 1
    assert (document["value"], document["value_text"], document["threshold_text"]) == (12.4, "$12.40", "$10.00")
    assert document == webhook_document(make_notification())


def test_body_is_deterministic_compact_utf8() -> None:
    n = make_notification(rule_name="Dépenses — 日本", scope={"z": "1", "a": "2"})
    body = webhook_body(n)
    assert body == webhook_body(n)
    assert "Dépenses — 日本".encode() in body
    assert b": " not in body and b", " not in body
    assert body.index(b'"a"') < body.index(b'"z"')


def test_non_finite_values_are_null_so_the_body_stays_valid_json() -> None:
    body = webhook_body(make_notification(value=float("inf"), threshold=float("nan")))
    document = json.loads(body)
    assert document["value"] is None and document["threshold"] is None and b"NaN" not in body


def test_signature_format_matches_the_documented_construction() -> None:
    body = webhook_body(make_notification())
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + body, hashlib.sha256).hexdigest()
    assert sign_body(body, SECRET, T) == f"t={T},v1={expected}"


def test_signature_verifies_with_the_secret() -> None:
    body = webhook_body(make_notification())
    assert verify_signature(body, sign_body(body, SECRET, T), SECRET, now=T + 5)


def test_wrong_secret_fails() -> None:
    body = webhook_body(make_notification())
    assert not verify_signature(body, sign_body(body, SECRET, T), "whsec_other", now=T)


def test_tampered_body_fails() -> None:
    body = webhook_body(make_notification())
    header = sign_body(body, SECRET, T)
    tampered = body.replace(b'"severity":"critical"', b'"severity":"info"')
    assert tampered != body
    assert not verify_signature(tampered, header, SECRET, now=T)


def test_changed_timestamp_fails() -> None:
    """The timestamp is signed: moving it forward to dodge the tolerance check breaks the HMAC."""
    body = webhook_body(make_notification())
    signature = sign_body(body, SECRET, T).split(",")[1]
    assert not verify_signature(body, f"t={T + 1000},{signature}", SECRET, now=T + 1000)


@pytest.mark.parametrize(("age", "ok"), [(0, True), (300, True), (301, False), (-300, True), (-301, False),
                                         (86_400, False)])
def test_stale_or_future_timestamps_fail(age: int, ok: bool) -> None:
    body = webhook_body(make_notification())
    assert verify_signature(body, sign_body(body, SECRET, T), SECRET, now=T + age) is ok


def test_tolerance_is_adjustable() -> None:
    body = webhook_body(make_notification())
    assert verify_signature(body, sign_body(body, SECRET, T), SECRET, now=T + 3000, tolerance=3600)


def test_any_of_several_signatures_may_match_during_secret_rotation() -> None:
    body = webhook_body(make_notification())
    old = sign_body(body, "whsec_old", T).split(",")[1]
    header = f"{sign_body(body, SECRET, T)},{old}"
    assert verify_signature(body, header, SECRET, now=T)
    assert verify_signature(body, header, "whsec_old", now=T)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", f"v1={'0' * 64}", f"t={T}", f"t={T},v1=",
                                    f"t=²,v1={'0' * 64}", f"t={T},v1=ü", ",,,=,="])
def test_malformed_headers_fail_without_raising(header: str) -> None:
    assert verify_signature(b"{}", header, SECRET, now=T) is False
