"""One scrape: every source within a time budget, counters kept monotonic, as a prometheus_client
collector that `generate_latest` renders.

A scrape must answer within a second even while a detector pass or an ingest burst holds the
engine's cores: each source runs in a thread of its own, and one not done when the budget is spent
is served from its last result (`llmpulse_scrape_source_stale` says so) while it finishes and
refreshes that result; a source still running from an earlier scrape is not started again, so a
slow engine never piles queries up.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from dashboard.prometheus.context import ScrapeContext
from dashboard.prometheus.sources import SOURCES, Source
from schemas.metadata.runs import StateStore

log = logging.getLogger(__name__)
BUDGET_SECONDS = 0.5  # leaves half a second for the rest, under CPU contention too
OFFSETS_KEY = "prometheus.counter_offsets"
_MONOTONIC_TYPES = ("counter", "histogram")
_SERIES_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class CounterGuard:
    """Keeps each exported counter and histogram series from ever going down.

    Totals can fall: a busy model that becomes one of the named ones leaves `other`, and a call a
    later copy moves to another service leaves its old series. Prometheus reads any fall as a
    restart and counts the whole value again, so a fall is turned into an offset: the series
    goes on from where it was, at its true rate. Offsets are kept in the metadata DB (written only
    when one changes), so a restarted dashboard goes on from them too.
    """

    def __init__(self, state: StateStore | None = None) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._last: dict[SeriesKey, float] = {}
        self._offsets: dict[SeriesKey, float] = self._load()

    def apply(self, families: list[Metric]) -> list[Metric]:
        changed = False
        with self._lock:
            for family in families:
                if family.type in _MONOTONIC_TYPES:
                    changed |= self._guard(family)
            if changed:
                self._save()
        return families

    def _guard(self, family: Metric) -> bool:
        changed = False
        for i, sample in enumerate(family.samples):
            if not sample.name.endswith(_SERIES_SUFFIXES):
                continue
            key = (sample.name, tuple(sorted(sample.labels.items())))
            value, last = sample.value + self._offsets.get(key, 0.0), self._last.get(key)
            if last is not None and value < last:
                self._offsets[key] = self._offsets.get(key, 0.0) + last - value
                value, changed = last, True
            self._last[key] = value
            family.samples[i] = sample._replace(value=value)
        return changed

    def _load(self) -> dict[SeriesKey, float]:
        try:
            saved = json.loads((self._state.get(OFFSETS_KEY) if self._state else None) or "[]")
            return {(name, tuple((k, v) for k, v in labels)): float(offset) for name, labels, offset in saved}
        except (ValueError, TypeError):
            return {}

    def _save(self) -> None:
        if self._state is not None:
            self._state.set(OFFSETS_KEY, json.dumps([[name, labels, offset]
                                                     for (name, labels), offset in self._offsets.items()]))


class Scraper:
    """The collector registered with prometheus_client: `collect()` is one scrape."""

    def __init__(self, make_context: Callable[[], ScrapeContext], guard: CounterGuard,
                 sources: tuple[Source, ...] = SOURCES, budget_seconds: float = BUDGET_SECONDS) -> None:
        self.make_context, self.guard, self.sources, self.budget = make_context, guard, sources, budget_seconds
        self._pool = ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="llmpulse-scrape")
        self._lock = threading.Lock()
        self._running: dict[str, Future[None]] = {}
        self._last: dict[str, list[Metric]] = {}
        self._seconds: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        ctx = self.make_context()
        futures = {source.name: self._start(source, ctx) for source in self.sources}
        wait(list(futures.values()), timeout=self.budget)
        stale = GaugeMetricFamily("llmpulse_scrape_source_stale", "1 when a source's figures are from an earlier "
                                  "scrape (it was late or failed)", labels=["source"])
        took = GaugeMetricFamily("llmpulse_scrape_source_duration_seconds", "How long a source's last completed "
                                 "collection took", labels=["source"])
        families: list[Metric] = []
        with self._lock:
            for source in self.sources:
                future = futures[source.name]
                fresh = future.done() and future.exception() is None
                stale.add_metric([source.name], 0.0 if fresh else 1.0)
                if source.name in self._seconds:
                    took.add_metric([source.name], self._seconds[source.name])
                families.extend(self._last.get(source.name, []))
        yield from self.guard.apply(families)
        yield from (stale, took)

    def _start(self, source: Source, ctx: ScrapeContext) -> Future[None]:
        with self._lock:
            running = self._running.get(source.name)
            if running is not None and not running.done():
                return running
            future = self._pool.submit(self._run, source, ctx)
            self._running[source.name] = future
            return future

    def _run(self, source: Source, ctx: ScrapeContext) -> None:
        started = time.perf_counter()
        try:
            families = source.collect(ctx)
        except Exception:
            log.exception("metrics source %s failed; serving its last figures", source.name)
            raise
        with self._lock:
            self._last[source.name] = families
            self._seconds[source.name] = time.perf_counter() - started

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
