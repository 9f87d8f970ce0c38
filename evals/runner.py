"""The in-service runner's core: a dataset's items put to a target, each call exported as a span.

Concurrency is a thread pool of the requested size, so a run never has more calls in flight than
the user allowed (a provider's rate limit is per key, and the key may be production's). Each item
is independent: its error is its outcome, never the run's end. Each outcome is handed to
`on_outcome` as it finishes, which is how the service shows progress and stores results while a
long run is still going; `cancelled` stops the run from starting further items.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from detectors.outbound import RetryPolicy
from evals.spans import CallRecord, RunTags, SpanSink
from evals.target import TARGET_RETRY_POLICY, ChatReply, Target, TemplateError, build_messages, call_chat

__all__ = ["ItemOutcome", "RunItem", "RunTags", "SpanSink", "run_item", "run_items"]

log = logging.getLogger(__name__)
MAX_CONCURRENCY = 256


@dataclass(frozen=True)
class RunItem:
    item_id: int
    input: str | list[dict[str, str]]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ItemOutcome:
    """One item's result; `error` is "" when the target answered. An item whose input could not be
    rendered made no call: no trace, no latency."""

    item_id: int
    output: str
    error: str
    trace_id: str
    span_id: str
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    response_model: str


OutcomeCallback = Callable[[ItemOutcome], None]


def run_items(target: Target, items: Sequence[RunItem], tags: RunTags, sink: SpanSink, *, concurrency: int,
              on_outcome: OutcomeCallback | None = None, cancelled: threading.Event | None = None,
              policy: RetryPolicy = TARGET_RETRY_POLICY) -> list[ItemOutcome]:
    """Every item not skipped by cancellation, in the items' order. Never raises for an item."""
    check_concurrency(concurrency)
    stop = cancelled or threading.Event()
    sessions = _ThreadSessions()

    def work(item: RunItem) -> ItemOutcome | None:
        if stop.is_set():
            return None
        try:
            outcome = run_item(target, item, tags, sink, policy, sessions.get())
        except Exception as exc:  # a bug met by one item must not end the others
            log.exception("item %s failed", item.item_id)
            outcome = ItemOutcome(item.item_id, "", f"internal error: {type(exc).__name__}: {exc}",
                                  "", "", None, None, None, "")
        _report(on_outcome, outcome)
        return outcome

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llmpulse-eval") as pool:
            outcomes = list(pool.map(work, items))
    finally:
        sessions.close()
    return [outcome for outcome in outcomes if outcome is not None]


def check_concurrency(concurrency: Any) -> int:
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, not {concurrency!r}")
    return concurrency


def run_item(target: Target, item: RunItem, tags: RunTags, sink: SpanSink,
             policy: RetryPolicy = TARGET_RETRY_POLICY, session: requests.Session | None = None) -> ItemOutcome:
    """messages → call → span → outcome; an item's failure of any kind is its outcome."""
    try:
        messages = build_messages(target, item.input, item.metadata)
    except TemplateError as exc:
        return ItemOutcome(item.item_id, "", f"template: {exc}", "", "", None, None, None, "")
    start_ns, started = time.time_ns(), time.perf_counter()
    reply = call_chat(target, messages, policy, session)
    latency_ms = (time.perf_counter() - started) * 1000
    trace_id, span_id = _record(sink, CallRecord(target, messages, reply, tags, item.item_id, start_ns,
                                                 start_ns + int(latency_ms * 1e6)))
    return outcome_of(item, reply, trace_id, span_id, latency_ms)


def outcome_of(item: RunItem, reply: ChatReply, trace_id: str, span_id: str, latency_ms: float) -> ItemOutcome:
    # A failed call served nothing: its model is not reported as served (as on its span).
    return ItemOutcome(item.item_id, reply.output, reply.error, trace_id, span_id, latency_ms,
                       reply.input_tokens, reply.output_tokens, "" if reply.error else reply.response_model)


class _ThreadSessions:
    """One HTTP session per worker thread (a Session is not safe to share between threads), so
    each worker keeps its connection to the endpoint from one item to the next."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._all.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()


def _record(sink: SpanSink, call: CallRecord) -> tuple[str, str]:
    """The span's ids; a sink that fails loses the trace link, not the item's result."""
    try:
        return sink.record(call)
    except Exception:  # the answer was got; only its span is lost
        log.exception("could not record the span of item %s", call.item_id)
        return "", ""


def _report(on_outcome: OutcomeCallback | None, outcome: ItemOutcome) -> None:
    if on_outcome is None:
        return
    try:
        on_outcome(outcome)
    except Exception:  # a progress callback must not end the run
        log.exception("on_outcome failed for item %s", outcome.item_id)
