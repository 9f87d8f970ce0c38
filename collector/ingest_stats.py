"""What one collector process counts of its own work, for /metrics: answers, spans, inserts.

Cumulative and thread-safe (waitress threads answer, the writer's insert thread inserts). A
process starts from the counters its collector reported last (`restore`), so after a restart
they go on from there instead of falling to zero. `IngestReporter` persists them
(schemas.metadata.ingest_reports) for the dashboard, which may be another process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from collector.errors import (
    DecodeError,
    ForeignOrigin,
    IngestError,
    MisdirectedHost,
    Overloaded,
    PayloadTooLarge,
    SpoolUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from schemas.metadata.ingest_reports import (
    INSERT_BOUNDS_SECONDS,
    INSERT_RETRIES,
    INSERT_SECONDS,
    RECEIVED,
    REFUSED,
    REJECTED,
    RESPONSES,
    ROWS_WRITTEN,
    SKIPPED,
)

log = logging.getLogger(__name__)

# Why a whole request was refused, by error class (the most specific first).
REASONS: tuple[tuple[type[IngestError], str], ...] = (
    (Overloaded, "queue_full"), (SpoolUnavailable, "spool_unavailable"), (DecodeError, "malformed"),
    (Unauthorized, "unauthorized"), (ForeignOrigin, "foreign_origin"), (MisdirectedHost, "misdirected_host"),
    (PayloadTooLarge, "too_large"), (UnsupportedMediaType, "unsupported_media_type"),
)


def refusal_reason(error: IngestError) -> str:
    return next((reason for kind, reason in REASONS if isinstance(error, kind)), "other")


def label_key(**labels: str) -> str:
    """A counter's labels as one JSON text (sorted), the key it is kept and reported under."""
    return json.dumps(sorted(labels.items()))


class IngestStats:
    def __init__(self, previous: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[str, float]] = {}
        self._insert = _Histogram(INSERT_BOUNDS_SECONDS)
        if previous:
            self.restore(previous)

    def count(self, family: str, amount: float = 1, **labels: str) -> None:
        if amount <= 0:
            return
        key = label_key(**labels)
        with self._lock:
            series = self._counters.setdefault(family, {})
            series[key] = series.get(key, 0) + amount

    def answered(self, signal: str, status: int) -> None:
        self.count(RESPONSES, signal=signal, code=str(status))

    def refused(self, error: IngestError) -> None:
        self.count(REFUSED, reason=refusal_reason(error))

    def accepted(self, signal: str, items: int, rejected: int, skipped: int = 0) -> None:
        self.count(RECEIVED, items, signal=signal)
        self.count(REJECTED, rejected, signal=signal)
        self.count(SKIPPED, skipped, signal=signal)

    def inserted(self, table: str, rows: int, seconds: float) -> None:
        """A batch's insert into `table` succeeded (the writer's insert thread calls this)."""
        self.count(ROWS_WRITTEN, rows, table=table)
        with self._lock:
            self._insert.observe(seconds)

    def retried(self) -> None:
        self.count(INSERT_RETRIES)

    def snapshot(self) -> dict[str, Any]:
        """Counters and the insert histogram as JSON-ready data (the report's cumulative part)."""
        with self._lock:
            return {"counters": {family: dict(series) for family, series in self._counters.items()},
                    "histograms": {INSERT_SECONDS: self._insert.to_json()}}

    def restore(self, previous: dict[str, Any]) -> None:
        """Start from a report's counters (this collector's last one, from before a restart)."""
        for family, series in (previous.get("counters") or {}).items():
            for key, value in series.items():
                self._counters.setdefault(family, {})[key] = float(value)
        self._insert.restore((previous.get("histograms") or {}).get(INSERT_SECONDS))


class _Histogram:
    """Cumulative bucket counts (Prometheus `le`, +Inf last) and a sum, as `prometheus_client` exposes."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.counts[-1] += 1
        self.total += value

    def to_json(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total}

    def restore(self, saved: dict[str, Any] | None) -> None:
        if saved and list(saved.get("bounds", ())) == list(self.bounds) and len(saved.get("counts", ())) == len(
                self.counts):
            self.counts = [int(c) for c in saved["counts"]]
            self.total = float(saved.get("sum", 0.0))


class IngestReporter:
    """Writes this collector's report every `interval` seconds, and once more when stopped.

    `gauges` gives what is true now (queue rows, spool bytes, dead-letter rows); `save` persists
    a report. A failing save is logged by the caller's `save` and retried on the next tick.
    """

    def __init__(self, stats: IngestStats, gauges: Callable[[], dict[str, float]],
                 save: Callable[[dict[str, Any]], None], interval: float) -> None:
        self.stats, self.gauges, self.save, self.interval = stats, gauges, save, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="llmpulse-ingest-report", daemon=True)

    def report(self) -> dict[str, Any]:
        return {**self.stats.snapshot(), "gauges": self.gauges(), "reported_at": datetime.now(UTC).isoformat()}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._save_now()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._save_now()

    def _save_now(self) -> None:
        try:
            self.save(self.report())
        except Exception:  # the metadata DB may be briefly away: the next tick saves it all again
            log.exception("could not save the ingest report")
