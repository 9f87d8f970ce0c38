"""An experiment's items read back from ClickHouse: per item its span's latency, and its trace's
LLM calls' cost and tokens, from the same normalization and prices as production.

Spans are exported asynchronously (the runner's exporter, then the collector's batch writer; an
app's own BatchSpanProcessor), so a finished item's span becomes readable a moment later. The
reader polls until every awaited span is visible or a deadline passes; it never sleeps a fixed
time that decides the outcome. An item whose span has not arrived keeps no cost (unknown, not $0)
and its result says why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.clickhouse.experiment_spans import item_spans, trace_call_totals
from schemas.clickhouse.store import Store

FIRST_POLL, LAST_POLL = 0.05, 1.0  # seconds between reads while spans are awaited: quick, then gentler
SPAN_NOTE = "span"  # the result's score entry that says why cost and tokens are unknown
SpanKey = tuple[str, str]  # (trace id, span id)


@dataclass(frozen=True)
class SpanReading:
    trace_id: str
    span_id: str
    request_model: str
    start_time: datetime
    duration_ms: float
    status_code: str
    status_message: str
    cost: Decimal | None  # the trace's LLM calls; None when one is unpriced or there is none
    input_tokens: int | None
    output_tokens: int | None
    calls: int


def await_spans(store: Store, project: str, wanted: Iterable[SpanKey], since: datetime, timeout: float, *,
                stopped: threading.Event | None = None, clock: Callable[[], float] = time.monotonic
                ) -> dict[SpanKey, SpanReading]:
    """The readings of the `wanted` spans that are readable within `timeout` seconds."""
    wanted = {key for key in wanted if key[0] and key[1]}
    stopped = stopped or threading.Event()
    deadline, pause = clock() + timeout, FIRST_POLL
    found = _visible(store, project, wanted, since)
    while set(found) < wanted and clock() < deadline and not stopped.is_set():
        stopped.wait(min(pause, max(deadline - clock(), 0.0)))
        pause = min(pause * 2, LAST_POLL)
        found = _visible(store, project, wanted, since)
    return _with_totals(store, project, found, since)


def _visible(store: Store, project: str, wanted: set[SpanKey], since: datetime) -> dict[SpanKey, dict[str, Any]]:
    rows = item_spans(store, project, [trace for trace, _ in wanted], since)
    return {key: row for row in rows if (key := (row["trace_id"], row["span_id"])) in wanted}


def _with_totals(store: Store, project: str, rows: dict[SpanKey, dict[str, Any]],
                 since: datetime) -> dict[SpanKey, SpanReading]:
    totals = {t["trace_id"]: t for t in trace_call_totals(store, project, [k[0] for k in rows], since)}
    return {key: _reading(row, totals.get(key[0])) for key, row in rows.items()}


def _reading(row: dict[str, Any], totals: dict[str, Any] | None) -> SpanReading:
    calls = int(totals["calls"]) if totals else 0
    priced = calls > 0 and not int(totals["unpriced"])  # type: ignore[index]
    return SpanReading(
        row["trace_id"], row["span_id"], row["request_model"], row["start_time"], float(row["duration_ms"]),
        row["status_code"], row["status_message"], Decimal(totals["cost"]) if priced else None,  # type: ignore[index]
        _count(totals, "input_tokens"), _count(totals, "output_tokens"), calls)


def _count(totals: dict[str, Any] | None, name: str) -> int | None:
    return int(totals[name]) if totals and totals.get(name) is not None else None


def apply_reading(result: dict[str, Any], reading: SpanReading | None, waited: float) -> dict[str, Any]:
    """`result` with the cost, tokens and latency its span says; the runner's own measures (latency,
    tokens) stay when the span never arrived, the cost stays unknown, and a note says so."""
    if reading is None:
        if not result.get("span_id"):
            return {**result, "cost": None}
        note = {"value": None, "passed": None, "reason": f"its span did not arrive within {waited:g} s: cost "
                "unknown, tokens and latency as the runner measured them"}
        return {**result, "cost": None, "scores": {**result.get("scores", {}), SPAN_NOTE: note}}
    return {**result, "cost": float(reading.cost) if reading.cost is not None else None,
            "latency_ms": reading.duration_ms,
            "input_tokens": reading.input_tokens if reading.calls else result.get("input_tokens"),
            "output_tokens": reading.output_tokens if reading.calls else result.get("output_tokens")}


def span_keys(results: Sequence[dict[str, Any]]) -> list[SpanKey]:
    return [(r["trace_id"], r["span_id"]) for r in results if r.get("trace_id") and r.get("span_id")]
