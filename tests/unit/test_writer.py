"""The batch writer's contract, with an in-memory insert standing in for ClickHouse."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from collector.errors import Overloaded
from collector.spool import Ticket
from collector.writer import BatchWriter, WriteItem
from tests.conftest import wait_for


class Table:
    def __init__(self, fail_transient: int = 0, bad_value: Any = None) -> None:
        self.rows: list[tuple] = []
        self.calls = 0
        self.fail_transient = fail_transient
        self.bad_value = bad_value

    def insert(self, table: str, columns: Sequence[str], data: Sequence[list[Any]]) -> None:
        self.calls += 1
        if self.fail_transient:
            self.fail_transient -= 1
            raise OperationalError("connection refused")
        rows = list(zip(*data, strict=True))
        if any(self.bad_value in row for row in rows):
            raise DatabaseError("Cannot parse input")
        self.rows += rows


def make_writer(table: Table, released: list[Ticket], **kwargs: Any) -> BatchWriter:
    options = {"batch_rows": 100, "flush_seconds": 0.02, "max_rows": 1000, **kwargs}
    writer = BatchWriter(table.insert, released.append, **options)
    writer.start()
    return writer


def item(values: list[int], ticket: int | None = None) -> WriteItem:
    return WriteItem("spans", ("v",), [{"v": v} for v in values], Ticket(ticket) if ticket else None)


def test_rows_are_written_and_tickets_released_after_insert() -> None:
    table, released = Table(), []
    writer = make_writer(table, released)
    writer.reserve(3)
    writer.enqueue([item([1, 2, 3], ticket=7)], 3)
    assert writer.force_flush(5)
    assert sorted(table.rows) == [(1,), (2,), (3,)]
    assert released == [Ticket(7)]
    assert writer.pending_rows() == 0
    writer.stop()


def test_transient_failures_are_retried() -> None:
    table, released = Table(fail_transient=2), []
    writer = make_writer(table, released)
    writer.reserve(1)
    writer.enqueue([item([5], ticket=1)], 1)
    assert writer.force_flush(10)
    assert table.rows == [(5,)] and writer.stats.retries == 2
    writer.stop()


def test_a_bad_row_is_isolated_and_the_rest_written(tmp_path: Any) -> None:
    table, released = Table(bad_value=13), []
    writer = make_writer(table, released, dead_letter=tmp_path / "dead.jsonl")
    writer.reserve(8)
    writer.enqueue([item([10, 11, 12, 13, 14, 15, 16, 17], ticket=2)], 8)
    assert writer.force_flush(5)
    assert sorted(r[0] for r in table.rows) == [10, 11, 12, 14, 15, 16, 17]
    assert writer.stats.dead_lettered == 1
    assert '"v": 13' in (tmp_path / "dead.jsonl").read_text()
    assert released == [Ticket(2)]
    writer.stop()
    again = make_writer(Table(), [], dead_letter=tmp_path / "dead.jsonl")
    assert again.stats.dead_lettered == 1  # the count is of the file, so /readyz shows it after a restart
    again.stop()


def test_reserve_refuses_beyond_capacity() -> None:
    table, released = Table(), []
    gate = threading.Event()
    writer = BatchWriter(lambda *a: gate.wait(5) and table.insert(*a), released.append,
                         batch_rows=1, flush_seconds=0.01, max_rows=10)
    writer.start()
    writer.reserve(8)
    writer.enqueue([item(list(range(8)))], 8)
    with pytest.raises(Overloaded) as refused:
        writer.reserve(5)
    assert refused.value.retry_after >= 1
    writer.check_room()  # 8 of 10: a request may still come in and be parsed
    writer.reserve(2)  # what still fits is accepted
    with pytest.raises(Overloaded):
        writer.check_room()  # full: refused before the body is even parsed
    writer.unreserve(2)
    gate.set()
    assert writer.force_flush(5)
    writer.reserve(9)  # room again once written
    writer.unreserve(9)
    writer.stop()


def test_a_backlog_is_written_in_batches_of_whole_requests() -> None:
    table, released, sizes, hooks = Table(), [], [], []
    gate = threading.Event()

    def insert(name: str, columns: Sequence[str], data: Sequence[list[Any]]) -> None:
        gate.wait(5)
        sizes.append(len(data[0]))
        table.insert(name, columns, data)

    writer = BatchWriter(insert, released.append, batch_rows=5, flush_seconds=0.01, max_rows=100,
                         after_batch=lambda: hooks.append(1))
    writer.start()
    for n in range(6):  # a backlog of six 3-row requests behind a stalled insert
        writer.reserve(3)
        writer.enqueue([item([10 * n, 10 * n + 1, 10 * n + 2], ticket=n + 1)], 3)
    gate.set()
    assert writer.force_flush(5)
    assert len(table.rows) == 18 and max(sizes) <= 5
    assert sorted(released, key=lambda t: t.segment) == [Ticket(n) for n in range(1, 7)]
    assert len(hooks) == len(sizes) and writer.pending_rows() == 0
    writer.stop()


def test_rows_are_made_in_the_writer_and_a_failing_recipe_keeps_its_ticket() -> None:
    table, released = Table(), []
    writer = make_writer(table, released)

    def broken() -> list[dict[str, Any]]:
        raise RuntimeError("normalizer bug")

    writer.reserve(3)
    writer.enqueue([WriteItem("spans", ("v",), make_rows=lambda: [{"v": 1}, {"v": 2}], ticket=Ticket(1)),
                    WriteItem("spans", ("v",), make_rows=broken, ticket=Ticket(2))], 3)
    assert writer.force_flush(5)
    assert sorted(table.rows) == [(1,), (2,)]
    assert released == [Ticket(1)]  # the failed request stays in the spool for replay
    assert "normalizer bug" in writer.stats.last_error
    writer.stop()


def waits_on_a_semaphore(thread: threading.Thread) -> bool:
    """Whether `thread` is blocked in Semaphore.acquire: the builder goes there once it has built
    every batch the bound allows, so a third build, were the bound broken, would come first."""
    frame = sys._current_frames().get(thread.ident or 0)
    caller = frame.f_back if frame is not None else None
    return (frame is not None and caller is not None and frame.f_code.co_name == "wait"
            and isinstance(caller.f_locals.get("self"), threading.Semaphore))


def test_the_next_batch_is_built_while_the_one_before_it_is_inserted() -> None:
    """Building rows holds the GIL and inserting mostly does not: the two overlap, two batches at most."""
    inserting, release_insert, built = threading.Event(), threading.Event(), []
    table = Table()

    def slow_insert(name: str, columns: Sequence[str], data: Sequence[list[Any]]) -> None:
        inserting.set()
        assert release_insert.wait(5)
        table.insert(name, columns, data)

    def lazy(value: int) -> WriteItem:
        return WriteItem("spans", ("v",), make_rows=lambda: built.append(value) or [{"v": value}])

    writer = BatchWriter(slow_insert, [].append, batch_rows=1, flush_seconds=0.02, max_rows=10)
    writer.start()
    for value in (1, 2, 3):
        writer.reserve(1)
        writer.enqueue([lazy(value)], 1)
    assert inserting.wait(5)
    builder = next(t for t in writer._threads if t.name == "llmpulse-writer")
    wait_for(lambda: waits_on_a_semaphore(builder), 5, "the builder never waited for a batch slot")
    assert built == [1, 2]  # batch 2 built during batch 1's insert; batch 3 waits for a slot
    release_insert.set()
    assert writer.force_flush(5)
    assert sorted(table.rows) == [(1,), (2,), (3,)] and built == [1, 2, 3]
    writer.stop()
