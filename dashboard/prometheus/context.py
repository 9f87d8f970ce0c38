"""What a scrape's sources read: the stores, the time, the label bound, this process's ingest."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.prometheus.labels import Ranking
from schemas.clickhouse.store import Store
from schemas.clickhouse.totals import call_totals
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

# (instance, report) of the collector running in this process, when one does (embedded mode).
LiveIngest = Callable[[], tuple[str, dict[str, Any]] | None]


def no_live_ingest() -> tuple[str, dict[str, Any]] | None:
    return None


@dataclass
class ScrapeContext:
    store: Store
    metadata: Metadata
    now: datetime
    top_n: int
    detectors: tuple[str, ...] = ()
    live_ingest: LiveIngest = no_live_ingest
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _totals: list[dict[str, Any]] | None = None
    _ranking: Ranking | None = None

    @property
    def state(self) -> StateStore:
        return StateStore(self.metadata)

    def totals(self) -> list[dict[str, Any]]:
        """The call totals (schemas.clickhouse.totals), read once per scrape for every source."""
        with self._lock:
            if self._totals is None:
                self._totals = call_totals(self.store)
            return self._totals

    def ranking(self) -> Ranking:
        """Which models, providers and services keep their names: the busiest by all-time calls, so
        the choice changes rarely (a change moves a value between its name and `other`)."""
        rows = self.totals()
        with self._lock:
            if self._ranking is None:
                self._ranking = Ranking(((r["project_id"], {"model": r["request_model"], "provider": r["provider"],
                                                             "service": r["service_name"]}, r["requests"])
                                         for r in rows), self.top_n)
            return self._ranking
