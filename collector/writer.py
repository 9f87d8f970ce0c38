"""The batch writer: a bounded queue in front of batched, column-oriented ClickHouse inserts.

Two worker threads form a pipeline: one builds a batch's rows (decoding and normalizing,
which holds the GIL), the other inserts the batch before it (chDB and the network release the
GIL), so a batch is built while the one before it is written. Batches flush on size or on a
timer. Capacity is reserved before a request is acknowledged, so a slow store turns into 503s
at the edge (backpressure), never into an unbounded heap. Transient failures are retried with
jittered backoff; a batch that ClickHouse refuses is split in halves until the bad rows are
isolated and dead-lettered.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Any

from clickhouse_connect.driver.exceptions import OperationalError

from collector.errors import Overloaded
from collector.ingest_stats import IngestStats
from collector.spool import Ticket
from schemas.clickhouse.columns import column_lists

log = logging.getLogger(__name__)

# Failures worth retrying as they are: the store is unreachable or busy, not the data bad.
RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, ConnectionError, TimeoutError)


@dataclass
class WriteItem:
    """Rows for one table, or the recipe for them: `make_rows` (for spans, `rows.SpanRowBuilder`'s)
    defers decode → normalize → price to the writer thread, so a request is acknowledged once it
    is checked and spooled."""

    table: str
    columns: Sequence[str]
    rows: list[dict[str, Any]] | None = None
    ticket: Ticket | None = None
    make_rows: Callable[[], list[dict[str, Any]]] | None = None

    def materialize(self) -> list[dict[str, Any]]:
        if self.rows is None:
            self.rows = self.make_rows() if self.make_rows else []
            self.make_rows = None
        return self.rows


@dataclass
class WriterStats:
    rows_written: int = 0
    batches: int = 0
    retries: int = 0
    dead_lettered: int = 0
    unmade: int = 0  # items whose rows could not be built; they stay in the spool
    last_error: str = ""
    per_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))


Group = tuple[list[WriteItem], int]  # the items of one enqueue and the rows reserved for them
TableRows = tuple[str, tuple[str, ...], list[dict[str, Any]]]
BATCHES_IN_FLIGHT = 2  # one being built, one being inserted: the memory of two batches at most
InsertFn = Callable[[str, Sequence[str], Sequence[list[Any]]], None]
ReleaseFn = Callable[[Ticket], None]


@dataclass
class Built:
    """A batch whose rows are made, waiting for the insert thread."""

    groups: list[Group]
    rows: int
    tables: list[TableRows]
    done: list[WriteItem]  # the items whose rows were made; their tickets are released once written


class BatchWriter:
    def __init__(self, insert: InsertFn, release: ReleaseFn, *, batch_rows: int, flush_seconds: float,
                 max_rows: int, dead_letter: Path | None = None, max_retry_seconds: float = 30.0,
                 after_batch: Callable[[], None] | None = None, counts: IngestStats | None = None) -> None:
        self._insert = insert
        self.counts = counts or IngestStats()  # rows written, insert times and retries, for /metrics
        self._release = release
        self._after_batch = after_batch
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows
        self.dead_letter = dead_letter
        self.max_retry_seconds = max_retry_seconds
        self.stats = WriterStats(dead_lettered=_count_lines(dead_letter))
        self._groups: list[Group] = []  # one per enqueue, kept whole: its ticket is on its last item
        self._queued_rows = 0
        self._reserved = 0
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._flush_now = False
        self._slots = threading.Semaphore(BATCHES_IN_FLIGHT)
        self._built: SimpleQueue[Built | None] = SimpleQueue()
        self._threads = (threading.Thread(target=self._build_loop, name="llmpulse-writer", daemon=True),
                         threading.Thread(target=self._insert_loop, name="llmpulse-insert", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def reserve(self, rows: int) -> None:
        """Claim room for `rows` before acknowledging them; raises Overloaded when full."""
        with self._cond:
            if self._reserved and self._reserved + rows > self.max_rows:
                raise self._overloaded()
            self._reserved += rows

    def check_room(self) -> None:
        """Overloaded already when the queue is full, so a request is refused before it is parsed."""
        with self._cond:
            if self._reserved >= self.max_rows:
                raise self._overloaded()

    def _overloaded(self) -> Overloaded:
        wait = max(1, round(self.flush_seconds * 2))
        return Overloaded(
            f"llmpulse is writing {self._reserved} spans to storage and has no room for more; "
            f"retry after {wait}s (OTLP exporters do this by themselves)", retry_after=wait,
        )

    def put_blocking(self, items: Sequence[WriteItem], rows: int, timeout: float = 120.0) -> None:
        """Queue items, waiting for room instead of refusing (spool replay at start-up)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._reserved and self._reserved + rows > self.max_rows:
                if time.monotonic() > deadline:
                    raise TimeoutError("the writer made no room within the timeout")
                self._cond.wait(0.05)
            self._reserved += rows
        self.enqueue(items, rows)

    def unreserve(self, rows: int) -> None:
        with self._cond:
            self._reserved -= rows

    def enqueue(self, items: Sequence[WriteItem], reserved: int) -> None:
        """Queue items whose room was reserved; rows counted once whatever the split."""
        with self._cond:
            self._groups.append((list(items), reserved))
            self._queued_rows += reserved
            if self._queued_rows >= self.batch_rows:
                self._cond.notify()

    def pending_rows(self) -> int:
        with self._cond:
            return self._reserved

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Block until every queued row is written (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flush_now = True
            self._cond.notify()
            while self._groups or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
                self._cond.notify()
        return True

    def stop(self, timeout: float = 30.0) -> None:
        self.force_flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def _build_loop(self) -> None:
        while True:
            self._slots.acquire()
            groups, rows = self._next_batch()
            if groups is None:
                self._built.put(None)
                return
            items = [item for items, _ in groups for item in items]
            done = [item for item in items if self._materialize(item)]
            self._built.put(Built(groups, rows, _rows_by_table(done), done))

    def _insert_loop(self) -> None:
        while (batch := self._built.get()) is not None:
            written = self._try_batch(batch)
            with self._cond:
                self._in_flight -= 1
                if written:
                    self._reserved -= batch.rows
                else:  # store unreachable past the retry deadline: keep the rows, try again
                    self._groups[:0] = batch.groups
                    self._queued_rows += batch.rows
                self._cond.notify_all()
            self._slots.release()
            if written:
                self._run_after_batch()
            else:
                time.sleep(self.flush_seconds)

    def _run_after_batch(self) -> None:
        """The hook that returns a batch's freed memory; its failure must not stop the writer."""
        if self._after_batch is None:
            return
        try:
            self._after_batch()
        except Exception:
            log.exception("after-batch hook failed")

    def _try_batch(self, batch: Built) -> bool:
        try:
            self._write_batch(batch)
            return True
        except RETRYABLE_ERRORS:
            log.error("ClickHouse unreachable; %d items kept in memory and spool", len(batch.done))
            return False
        except Exception:  # the loop must survive anything; the rows stay in the spool
            log.exception("writer batch failed unexpectedly")
            return True

    def _next_batch(self) -> tuple[list[Group] | None, int]:
        with self._cond:
            deadline = time.monotonic() + self.flush_seconds
            while self._queued_rows < self.batch_rows and not self._stopping:
                remaining = deadline - time.monotonic()
                if (remaining <= 0 or self._flush_now) and self._groups:
                    break
                self._cond.wait(remaining if remaining > 0 else self.flush_seconds)
                if remaining <= 0:
                    deadline = time.monotonic() + self.flush_seconds
            if self._stopping and not self._groups:
                return None, 0
            groups, rows = self._take(self.batch_rows)
            self._flush_now = self._flush_now and bool(self._groups)
            self._in_flight += 1
            return groups, rows

    def _take(self, limit: int) -> tuple[list[Group], int]:
        """Whole groups from the head of the queue, up to `limit` rows (at least one group).

        A batch never grows with the backlog, so neither does the memory of one insert.
        """
        count, rows = 0, 0
        while count < len(self._groups) and (count == 0 or rows + self._groups[count][1] <= limit):
            rows += self._groups[count][1]
            count += 1
        taken, self._groups = self._groups[:count], self._groups[count:]
        self._queued_rows -= rows
        return taken, rows

    def _write_batch(self, batch: Built) -> None:
        for table, columns, rows in batch.tables:
            self._write_rows(table, columns, rows)
        for item in batch.done:
            if item.ticket is not None:
                self._release(item.ticket)
        self.stats.batches += 1

    def _materialize(self, item: WriteItem) -> bool:
        """False when the rows cannot be made (a bug, not bad input: the edge checked it); the
        request then stays in the spool for a fixed version to replay, instead of being lost."""
        try:
            item.materialize()
            return True
        except Exception as exc:
            log.exception("could not build rows for %s; the request stays in the spool", item.table)
            self.stats.unmade += 1
            self.stats.last_error = str(exc)
            return False

    def _write_rows(self, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
        try:
            self._insert_with_retry(table, columns, rows)
        except RETRYABLE_ERRORS:
            raise
        except Exception as exc:
            if len(rows) == 1:
                self._dead_letter(table, rows[0], exc)
                return
            half = len(rows) // 2
            self._write_rows(table, columns, rows[:half])
            self._write_rows(table, columns, rows[half:])
            return
        self.stats.rows_written += len(rows)
        self.stats.per_table[table] += len(rows)

    def _insert_with_retry(self, table: str, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
        data = column_lists(rows, columns)
        delay, deadline = 0.1, time.monotonic() + self.max_retry_seconds
        while True:
            try:
                started = time.monotonic()
                self._insert(table, columns, data)
                self.counts.inserted(table, len(rows), time.monotonic() - started)
                return
            except RETRYABLE_ERRORS as exc:
                if time.monotonic() + delay > deadline:
                    raise
                self.stats.retries += 1
                self.counts.retried()
                self.stats.last_error = str(exc)
                log.warning("insert into %s failed (%s); retrying in %.1fs", table, exc, delay)
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 5.0)

    def _dead_letter(self, table: str, row: dict[str, Any], exc: Exception) -> None:
        """The last resort for a row ClickHouse refuses though the edge accepted it: a bug, so it
        is loud (ERROR, and the count on /readyz) and the row is kept to be re-sent once fixed."""
        self.stats.dead_lettered += 1
        self.stats.last_error = str(exc)
        log.error("row refused by ClickHouse table %s (%s); kept in the dead-letter file %s, which holds %d "
                  "rows: an acknowledged span that is not stored is a bug, please report it",
                  table, exc, self.dead_letter, self.stats.dead_lettered)
        if self.dead_letter is not None:
            with self.dead_letter.open("a") as out:
                out.write(json.dumps({"table": table, "error": str(exc), "row": row}, default=str) + "\n")


def _count_lines(path: Path | None) -> int:
    """Rows already in the dead-letter file, so its count survives a restart."""
    try:
        with path.open("rb") as lines:  # type: ignore[union-attr]
            return sum(1 for _ in lines)
    except (AttributeError, OSError):
        return 0


def _rows_by_table(items: list[WriteItem]) -> list[TableRows]:
    by_table: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        by_table[(item.table, tuple(item.columns))].extend(item.rows or [])
    return [(table, columns, rows) for (table, columns), rows in by_table.items() if rows]
