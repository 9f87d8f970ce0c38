"""What each collector process last reported of its own counters: how a scrape of the UI sees ingest.

In server mode the collectors are other processes (often several, behind a load balancer) than
the dashboard that answers /metrics, so a per-process counter in the dashboard would read zero.
Each collector writes its cumulative counters and gauges here every few seconds (one row per
collector, keyed by host and port), and starts from its own last row after a restart, so a
counter never goes down. The dashboard reads every collector's row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from schemas.metadata.models import Base, UtcDateTime, utcnow

if TYPE_CHECKING:  # schemas.metadata.store imports this module to register the table
    from schemas.metadata.store import Metadata

# What a report holds (written by collector.ingest_stats, read by dashboard.prometheus). Counter
# families, each kept per label set (a JSON text of sorted (name, value) pairs):
RESPONSES = "responses"  # every OTLP answer: signal, code
REFUSED = "requests_refused"  # whole requests refused: reason
RECEIVED = "items_received"  # spans / log records / metric points acknowledged: signal
SKIPPED = "items_skipped"  # metric points acknowledged but not kept (not GenAI metrics): signal
REJECTED = "items_rejected"  # items refused inside an accepted request (partial success): signal
ROWS_WRITTEN = "rows_written"  # rows in ClickHouse: table
INSERT_RETRIES = "insert_retries"  # inserts retried after a transient failure
# The one histogram: a batch insert's time, with these bounds (+Inf last in its counts).
INSERT_SECONDS = "insert_seconds"
INSERT_BOUNDS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Gauges: what is true when the report was made.
QUEUE_ROWS, SPOOL_BYTES, SPOOL_RECORDS = "queue_rows", "spool_bytes", "spool_records"
DEAD_LETTER_ROWS, UNBUILT_REQUESTS = "dead_letter_rows", "unbuilt_requests"


class IngestReportRow(Base):
    """One collector process's last report (JSON: counters, histograms, gauges)."""

    __tablename__ = "ingest_reports"

    instance: Mapped[str] = mapped_column(String(200), primary_key=True)
    report: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


@dataclass(frozen=True)
class IngestReport:
    instance: str
    updated_at: datetime
    report: dict[str, Any]


class IngestReports:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def save(self, instance: str, report: dict[str, Any], now: datetime | None = None) -> None:
        with self.metadata.session() as db:
            row = db.get(IngestReportRow, instance) or IngestReportRow(instance=instance)
            row.report, row.updated_at = json.dumps(report), now or utcnow()
            db.add(row)
            db.commit()

    def load(self, instance: str) -> dict[str, Any] | None:
        with self.metadata.session() as db:
            row = db.get(IngestReportRow, instance)
            return _parsed(row.report) if row is not None else None

    def since(self, start: datetime) -> list[IngestReport]:
        """Every collector that reported at or after `start`, by instance."""
        with self.metadata.session() as db:
            rows = db.scalars(select(IngestReportRow).where(IngestReportRow.updated_at >= start)
                              .order_by(IngestReportRow.instance))
            return [IngestReport(row.instance, row.updated_at, _parsed(row.report)) for row in rows]


def _parsed(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
