"""Outbound HTTP for notifiers and the LLM judge: one retry policy, a result value, never an exception.

Only failures that another attempt can cure are retried (every 5xx, 429, connection errors and
timeouts), with exponential backoff, full jitter and `Retry-After` honoured, all within a deadline,
so a slow or dead receiver costs the caller a bounded time and never blocks a detector. Any other
4xx is permanent: the request itself is wrong (a revoked URL, a bad routing key) and stays wrong.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import requests

THROTTLED = 429
RETRYABLE_ERRORS = (requests.ConnectionError, requests.Timeout)
_MAX_BODY_IN_RESULT = 2000
_MIN_TIMEOUT = 0.01  # seconds; requests rejects a zero or negative timeout


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try; `base_delay` is the backoff's scale (tests pass milliseconds)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 10.0  # per attempt (connect and read)
    deadline: float = 60.0  # for all attempts together


@dataclass(frozen=True)
class HttpResult:
    """What happened to one delivery: `ok` or why not, after how many attempts."""

    ok: bool
    status: int | None
    attempts: int
    error: str
    body: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


Sleep = Callable[[float], None]


def post_json(url: str, payload: Any, *, headers: Mapping[str, str] | None = None,
              policy: RetryPolicy = RetryPolicy(), data: bytes | None = None,
              session: requests.Session | None = None, sleep: Sleep = time.sleep,
              max_body: int = _MAX_BODY_IN_RESULT) -> HttpResult:
    """POST `payload` as JSON (or the exact bytes `data`, e.g. a signed body) with the retry policy.
    A reply's body is kept up to `max_body` characters: a receiver's answer is only logged, but an
    LLM's answer is the result, and a cut one would not parse."""
    send = session or requests
    all_headers = {"Content-Type": "application/json", "User-Agent": "llmpulse", **(headers or {})}
    started = time.monotonic()
    attempt, status, error, body = 0, None, "", ""
    while attempt < policy.attempts:
        attempt += 1
        retry_after = None
        # An attempt may not outlive the deadline: a hung receiver must not add a whole timeout to it.
        timeout = max(min(policy.timeout, policy.deadline - (time.monotonic() - started)), _MIN_TIMEOUT)
        try:
            response = send.post(url, json=None if data is not None else payload, data=data,
                                 headers=all_headers, timeout=timeout)
        except RETRYABLE_ERRORS as exc:
            status, error, body = None, f"{type(exc).__name__}: {exc}", ""
        except requests.RequestException as exc:  # invalid URL and the like: no retry can help
            return _result(False, None, attempt, f"{type(exc).__name__}: {exc}", "", started)
        else:
            status, body = response.status_code, response.text[:max_body]
            if 200 <= status < 300:
                return _result(True, status, attempt, "", body, started)
            error = f"HTTP {status}: {body[:200]}"
            if not is_retryable(status):
                return _result(False, status, attempt, error, body, started)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        delay = backoff_delay(attempt, policy, retry_after)
        if attempt >= policy.attempts or time.monotonic() - started + delay > policy.deadline:
            break
        sleep(delay)
    return _result(False, status, attempt, error or "gave up", body, started)


def is_retryable(status: int) -> bool:
    """A server error (a 500 from a receiver mid-deploy is as passing as a 503) or a throttle."""
    return status == THROTTLED or 500 <= status <= 599


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None = None) -> float:
    """Full jitter (AWS architecture blog) unless the receiver said when to come back."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), policy.max_delay)
    return random.uniform(0, min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1)))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or odd."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone accepts "²", which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; they are UTC, not the host's local time
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - time.time()


def _result(ok: bool, status: int | None, attempts: int, error: str, body: str, started: float) -> HttpResult:
    return HttpResult(ok, status, attempts, error, body, time.monotonic() - started)
