"""The ingest pipeline: check → spool → ack; then, on the writer's thread, build rows → insert.

A request is decompressed (`collector.transport`) and checked (`collector.check`), appended to
the spool and acknowledged; its spans are decoded, normalized and priced later, by the writer,
through the `SpanRowBuilder` (`collector.rows`) each queued item carries, so the ack never waits
for that work. Everything that can refuse a request runs before the spool append, so a refused
request leaves nothing behind, and an acknowledged one is already on disk. GenAI log events are
few and small: their rows are made before the ack, and so are the rows of GenAI metric points
(`collector.metric_points`). It knows nothing of HTTP (the edge hands it
bytes and header values) nor of ClickHouse (the writer takes rows).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector.check import check_traces
from collector.counts import DEFAULT_MAX_COUNT
from collector.decode import decode_logs
from collector.errors import SpoolUnavailable
from collector.messages import INPUT, OUTPUT, extract_log_messages
from collector.metric_points import POINT_COLUMNS, decode_metric_points
from collector.pricing import PriceBook, PriceOverride
from collector.rows import SpanRowBuilder
from collector.spool import Spool, SpoolRecord
from collector.transport import PROTOBUF_CONTENT_TYPE, decompress_body, media_type
from collector.writer import BatchWriter, WriteItem
from schemas.fields import SPAN_COLUMNS
from schemas.records import RawLogRecord

log = logging.getLogger(__name__)

SPOOL_RETRY_SECONDS = 5  # a full disk is rarely freed within a second
SIGNAL_TRACES = "traces"
SIGNAL_LOGS = "logs"
SIGNAL_METRICS = "metrics"
SPANS_TABLE = "spans"
EVENTS_TABLE = "genai_events"
METRIC_POINTS_TABLE = "otel_metric_points"
EVENT_COLUMNS = (
    "project_id", "trace_id", "span_id", "time", "event_name", "record_id", "body", "attributes",
    "input_messages", "output_messages",
)


@dataclass(frozen=True)
class Prepared:
    """A checked request: what goes to the spool, what goes to the writer, what was refused."""

    record: SpoolRecord
    item: WriteItem
    rows: int
    rejected: int
    reasons: list[str]
    skipped: int = 0  # metric points of metrics that are not kept


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    rejected: int
    message: str
    skipped: int = 0


class PriceBookSource:
    """The current PriceBook, rebuilt from the metadata DB's overrides and the projects that prefer
    reported costs at most every `ttl` seconds: a change reaches ingest within that time."""

    def __init__(self, load: Callable[[], Iterable[dict[str, Any]]], ttl: float = 30.0,
                 load_prefer_reported: Callable[[], Iterable[str]] = tuple) -> None:
        self._load = load
        self._load_prefer_reported = load_prefer_reported
        self._ttl = ttl
        self._book = PriceBook()
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> PriceBook:
        if time.monotonic() - self._loaded_at > self._ttl:
            self.refresh()
        return self._book

    def refresh(self) -> None:
        with self._lock:
            try:
                overrides = [PriceOverride(**_override_fields(d)) for d in self._load()]
                self._book = PriceBook(overrides, self._load_prefer_reported())
            except Exception:  # keep pricing with the last good book
                log.exception("could not load price overrides")
            self._loaded_at = time.monotonic()


def _override_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "id"}


class IngestPipeline:
    def __init__(self, spool: Spool, writer: BatchWriter, prices: PriceBookSource, *,
                 max_body_bytes: int, max_value_chars: int, max_tokens_per_call: int = DEFAULT_MAX_COUNT) -> None:
        self.spool = spool
        self.writer = writer
        self.prices = prices
        self.max_body_bytes = max_body_bytes
        self.max_value_chars = max_value_chars
        self.max_tokens_per_call = max_tokens_per_call
        self.span_rows = SpanRowBuilder(prices, max_value_chars=max_value_chars,
                                        max_tokens_per_call=max_tokens_per_call)

    def accept(self, project: str, signal: str, content_type: str | None, encoding: str | None,
               body: bytes, ingest_key: str = "") -> IngestResult:
        """Validate and durably queue one OTLP request; raises an IngestError to refuse it.
        `ingest_key`: the id of the key that sent it, recorded on its spans ('' for none)."""
        media = media_type(content_type)
        self.writer.check_room()  # a full queue refuses before paying for the parse
        raw = decompress_body(body, encoding, self.max_body_bytes)
        prepared = self._prepare(project, signal, media, raw, ingest_key)
        if prepared.rows:
            self._queue(prepared)
        return IngestResult(prepared.rows, prepared.rejected, "; ".join(prepared.reasons[:5]), prepared.skipped)

    def _prepare(self, project: str, signal: str, media: str, raw: bytes, ingest_key: str) -> Prepared:
        if signal == SIGNAL_TRACES:
            return self._prepare_traces(project, media, raw, ingest_key)
        if signal == SIGNAL_METRICS:
            return self._prepare_metrics(project, media, raw)
        return self._prepare_logs(project, media, raw)

    def _prepare_traces(self, project: str, media: str, raw: bytes, ingest_key: str) -> Prepared:
        """Checked now; the writer builds the rows later (`SpanRowBuilder`, see WriteItem.make_rows)."""
        checked = check_traces(raw, media, self.max_tokens_per_call)
        item = WriteItem(SPANS_TABLE, SPAN_COLUMNS, make_rows=self.span_rows.recipe(project, checked, ingest_key))
        record = SpoolRecord(project, SIGNAL_TRACES, PROTOBUF_CONTENT_TYPE, checked.body, ingest_key)
        return Prepared(record, item, checked.valid, checked.rejected, checked.reasons)

    def _prepare_logs(self, project: str, media: str, raw: bytes) -> Prepared:
        decoded = decode_logs(raw, media)
        events = [event_row(rec, project, self.max_value_chars) for rec in decoded.records if is_genai_event(rec)]
        record = SpoolRecord(project, SIGNAL_LOGS, media, raw)
        item = WriteItem(EVENTS_TABLE, EVENT_COLUMNS, rows=events)
        return Prepared(record, item, len(events), decoded.rejected, decoded.reasons)

    def _prepare_metrics(self, project: str, media: str, raw: bytes) -> Prepared:
        """GenAI points become rows now; points of other metrics are skipped, neither stored nor refused."""
        points = decode_metric_points(raw, media, project)
        record = SpoolRecord(project, SIGNAL_METRICS, media, raw)
        item = WriteItem(METRIC_POINTS_TABLE, POINT_COLUMNS, rows=points.rows)
        return Prepared(record, item, len(points.rows), points.rejected, points.reasons, points.skipped)

    def _queue(self, prepared: Prepared) -> None:
        self.writer.reserve(prepared.rows)
        try:
            ticket = self.spool.append(prepared.record)
        except BaseException as exc:
            self.writer.unreserve(prepared.rows)
            if isinstance(exc, OSError):
                raise spool_unavailable(exc, self.spool.directory) from exc
            raise
        prepared.item.ticket = ticket
        self.writer.enqueue([prepared.item], prepared.rows)

    def replay_spool(self) -> int:
        """Re-queue what a previous process acknowledged but may not have written; returns rows."""
        total, unmade = 0, self.writer.stats.unmade
        for record in self.spool.recovered():
            prepared = self._prepare(record.project, record.signal, record.content_type, record.body,
                                     record.ingest_key)
            if prepared.rows:
                self.writer.put_blocking([prepared.item], prepared.rows)
                total += prepared.rows
        if self.writer.force_flush(timeout=300) and self.writer.stats.unmade == unmade:
            self.spool.drop_recovered()
        else:
            log.error("spool replay not all written; the records stay for the next start")
        return total


def spool_unavailable(exc: OSError, directory: Path) -> SpoolUnavailable:
    return SpoolUnavailable(
        f"llmpulse could not write the request to its spool ({exc.strerror or exc}), so nothing of it was "
        f"kept; retry after {SPOOL_RETRY_SECONDS}s. Operators: check free space and errors on {directory}",
        retry_after=SPOOL_RETRY_SECONDS,
    )


def is_genai_event(record: RawLogRecord) -> bool:
    return record.event_name.startswith("gen_ai.")


def event_row(record: RawLogRecord, project: str, max_chars: int) -> dict[str, Any]:
    """A GenAI event row, with the chat messages it carries already extracted for the trace view."""
    body = json.dumps(record.body, default=str, ensure_ascii=False)
    messages = extract_log_messages([record], max_chars).get((record.trace_id, record.span_id), {})
    identity = f"{record.time_ns}|{record.event_name}|{body}|{sorted(record.attributes.items())}"
    return {
        "project_id": project,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "time": datetime.fromtimestamp(record.time_ns / 1e9, UTC),
        "event_name": record.event_name,
        "record_id": hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest(),
        "body": body,
        "attributes": {k: v if isinstance(v, str) else json.dumps(v, default=str)
                       for k, v in record.attributes.items()},
        "input_messages": _json_or_empty(messages.get(INPUT)),
        "output_messages": _json_or_empty(messages.get(OUTPUT)),
    }


def _json_or_empty(messages: list[dict[str, Any]] | None) -> str:
    return json.dumps(messages, ensure_ascii=False) if messages else ""
