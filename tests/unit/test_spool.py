"""The spool keeps acknowledged bodies until released, survives restarts, and stops at a torn tail."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collector import spool as spool_module
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


# Run in a child: RLIMIT_FSIZE holds for every file its process writes, and the test process has others.
FULL_DISK = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from collector.spool import Spool, SpoolRecord
    spool, acked = Spool(Path(sys.argv[1])), []
    resource.setrlimit(resource.RLIMIT_FSIZE, (2500, resource.RLIM_INFINITY))  # the disk fills up
    for n in range(8):
        if n == 5:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)  # and is freed
        try:
            spool.append(SpoolRecord("default", "traces", "application/x-protobuf", bytes([n]) * 1000))
            acked.append(n)
        except OSError as exc:
            print("refused", n, exc.errno, file=sys.stderr)
    print(*acked)
""")


def test_a_full_disk_refuses_records_without_tearing_the_ones_acknowledged_after(tmp_path: Path) -> None:
    """The third record fits only in part: the kernel writes what fits and returns the count, then
    refuses the rest. Before, that short write was acknowledged, and a replay stopped at its torn
    frame, losing every record acknowledged after it."""
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    acked = [int(n) for n in done.stdout.split()]
    assert acked == [0, 1, 5, 6, 7]
    assert f"refused 2 {errno.EFBIG}" in done.stderr
    assert [r.body[0] for r in Spool(tmp_path).recovered()] == acked


def test_a_failed_write_that_cannot_be_cut_back_seals_its_segment(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path)
    spool.append(record(1))
    segment = spool._file

    def fail_half_way(frame: bytes) -> None:
        segment.write(frame[: len(frame) // 2])  # half a frame reaches the disk, then the device fails
        raise OSError(errno.EIO, "I/O error")

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(spool, "_write_frame", fail_half_way)
    monkeypatch.setattr(spool_module.os, "ftruncate", no_truncate)
    with pytest.raises(OSError):
        spool.append(record(2))
    monkeypatch.undo()
    spool.append(record(3))  # in a new segment: the torn frame ends the sealed one
    assert len(list(tmp_path.glob("*.spool"))) == 2
    assert [r.body[0] for r in Spool(tmp_path).recovered()] == [1, 3]


def test_a_record_written_before_the_next_segment_fails_to_open_is_kept_and_acknowledged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path, segment_bytes=250)

    def no_new_file(segment: int) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(spool, "_open_segment", no_new_file)
    tickets = [spool.append(record(n)) for n in range(4)]  # each one would roll to a new segment
    monkeypatch.undo()
    assert {t.segment for t in tickets} == {1} and len(list(tmp_path.glob("*.spool"))) == 1
    spool.append(record(4))
    assert [r.body[0] for r in Spool(tmp_path).recovered()] == [0, 1, 2, 3, 4]


def test_a_record_keeps_the_ingest_key_and_an_older_record_reads_as_keyless(tmp_path: Path) -> None:
    """Replay must record the same key as the first attempt; records spooled before keys were kept
    (a three-item header) replay with none."""
    spool = Spool(tmp_path)
    keyed = SpoolRecord("acme", "traces", "application/x-protobuf", b"body", ingest_key="7")
    spool.append(keyed)
    header = b'["acme", "traces", "application/x-protobuf"]'
    payload = len(header).to_bytes(4, "little") + header + b"old"
    assert spool_module._decode(payload) == SpoolRecord("acme", "traces", "application/x-protobuf", b"old")
    assert list(Spool(tmp_path).recovered()) == [keyed]
