"""The spool keeps acknowledged bodies until released, survives restarts, and stops at a torn tail."""

from __future__ import annotations

from pathlib import Path

from collector.spool import Spool, SpoolRecord


def record(n: int) -> SpoolRecord:
    return SpoolRecord("default", "traces", "application/x-protobuf", bytes([n]) * 100)


def test_unreleased_records_are_recovered_by_the_next_process(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    tickets = [spool.append(record(n)) for n in range(5)]
    spool.release(tickets[0])
    # no close(): the process dies here
    again = Spool(tmp_path)
    recovered = list(again.recovered())
    assert [r.body[0] for r in recovered] == [0, 1, 2, 3, 4]  # whole segments replay; dedup is downstream
    assert recovered[0] == record(0)
    again.drop_recovered()
    assert list(Spool(tmp_path).recovered()) == []


def test_released_sealed_segments_are_deleted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=250)
    tickets = [spool.append(record(n)) for n in range(6)]
    assert len(list(tmp_path.glob("*.spool"))) >= 3
    for ticket in tickets:
        spool.release(ticket)
    assert len(list(tmp_path.glob("*.spool"))) == 1  # only the open segment remains
    spool.close()
    assert list(tmp_path.glob("*.spool")) == []


def test_torn_tail_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, fsync=True)
    spool.append(record(1))
    spool.append(record(2))
    segment = next(tmp_path.glob("*.spool"))
    segment.write_bytes(segment.read_bytes()[:-10])  # a write cut short by a crash
    assert [r.body[0] for r in Spool(tmp_path).recovered()] == [1]
