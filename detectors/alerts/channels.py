"""Validation of channel payloads: what each channel type needs, and which parts are secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from detectors.alerts.rules import AlertInputError, check_name
from detectors.notify.pagerduty import PAGERDUTY_EVENTS_URL

CHANNEL_TYPES = ("slack", "pagerduty", "webhook")
_FIELDS = {"slack": ("type", "name", "url"), "pagerduty": ("type", "name", "routing_key", "url"),
           "webhook": ("type", "name", "url", "secret")}
MAX_SECRET = 512


class ChannelError(AlertInputError):
    """A channel payload that cannot be stored as sent."""


@dataclass(frozen=True)
class ChannelSpec:
    type: str
    name: str
    secrets: dict[str, str]  # url, routing_key, secret: stored sealed, never returned
    hint: str  # the URL's host: enough for a person to recognise the channel


def parse_channel(payload: Any) -> ChannelSpec:
    if not isinstance(payload, dict):
        raise ChannelError("the channel must be a JSON object", "")
    kind = payload.get("type")
    if kind not in CHANNEL_TYPES:
        raise ChannelError(f"type must be one of {', '.join(CHANNEL_TYPES)}, got {kind!r}", "type")
    unknown = sorted(set(payload) - set(_FIELDS[kind]))
    if unknown:
        raise ChannelError(f"unknown field {unknown[0]!r} for a {kind} channel; accepted: "
                           f"{', '.join(_FIELDS[kind])}", unknown[0])
    name = check_name(payload.get("name"), error=ChannelError)
    url = _url(payload.get("url"), required=kind != "pagerduty") or PAGERDUTY_EVENTS_URL
    secrets = {"url": url}
    if kind == "pagerduty":
        secrets["routing_key"] = _secret(payload.get("routing_key"), "routing_key", required=True)
    if kind == "webhook" and payload.get("secret") is not None:
        secrets["secret"] = _secret(payload.get("secret"), "secret", required=False)
    return ChannelSpec(kind, name, secrets, urlsplit(url).hostname or "")


def _url(value: Any, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise ChannelError("url is required: the endpoint to POST notifications to", "url")
        return ""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError(f"url must be an http(s) URL, got {value!r}"[:300], "url")
    return value


def _secret(value: Any, field: str, *, required: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        if required or value is not None:
            raise ChannelError(f"{field} must be a non-empty string", field)
        return ""
    if len(value) > MAX_SECRET:
        raise ChannelError(f"{field} is longer than {MAX_SECRET} characters", field)
    return value.strip()
