"""Durable spool: every acknowledged request body is on disk before its 200 goes out.

Append-only segment files of CRC-framed records. A record stays until the writer has put its
rows in ClickHouse; a segment is deleted once it is sealed and all its records are released.
At start-up every remaining record is replayed. Replaying a record that was in fact already
inserted is harmless: span tables are ReplacingMergeTree on the span identity and readers use
FINAL, so a span is never counted twice.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<4sII")  # magic, payload length, crc32 of payload
_MAGIC = b"LPS1"
_SUFFIX = ".spool"


@dataclass(frozen=True)
class SpoolRecord:
    """One acknowledged request: which project, which signal, the body as received, and the id of
    the ingest key that sent it ('' for none), so a replayed span records the same key."""

    project: str
    signal: str
    content_type: str
    body: bytes
    ingest_key: str = ""


@dataclass(frozen=True)
class Ticket:
    segment: int


class Spool:
    def __init__(self, directory: Path, *, fsync: bool = False, segment_bytes: int = 64 << 20) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._outstanding: dict[int, int] = {}
        directory.mkdir(parents=True, exist_ok=True)
        self._recovered = sorted(self._segment_ids())
        self._segment = (self._recovered[-1] + 1) if self._recovered else 1
        self._file = self._open_segment(self._segment)

    def _segment_ids(self) -> list[int]:
        return [int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit()]

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}{_SUFFIX}"

    def _open_segment(self, segment: int):
        file = open(self._path(segment), "ab", buffering=0)  # noqa: SIM115 (closed by _roll and close)
        self._outstanding[segment] = 0
        return file

    def append(self, record: SpoolRecord) -> Ticket:
        """Write the record; when this returns, a kill -9 can no longer lose it.

        Raises OSError when the disk refuses it (full, quota, I/O error); the segment is then left
        as it was, so the records acknowledged after this one are not stuck behind a torn frame.
        """
        payload = _encode(record)
        frame = _FRAME.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            start = os.fstat(self._file.fileno()).st_size
            try:
                self._write_frame(frame)
            except OSError:
                self._cut_back(start)
                raise
            ticket = Ticket(self._segment)
            self._outstanding[self._segment] += 1
            if start + len(frame) >= self.segment_bytes:
                self._roll_if_possible()
            return ticket

    def _roll_if_possible(self) -> None:
        """The record is already durable: a new segment that cannot be opened now only means
        this one grows past its size until one can."""
        try:
            self._roll()
        except OSError as exc:
            log.warning("spool %s: could not start a new segment (%s); appending to this one",
                        self.directory, exc)

    def _write_frame(self, frame: bytes) -> None:
        """All of it or OSError: a write the kernel cuts short (a disk filling up) is continued."""
        view = memoryview(frame)
        while view:
            written = self._file.write(view)
            if not written:
                raise OSError(errno.ENOSPC, "the spool file took no more bytes")
            view = view[written:]
        if self.fsync:
            os.fdatasync(self._file.fileno())

    def _cut_back(self, size: int) -> None:
        """Drop a failed frame's bytes; if even that fails, seal the segment with the torn tail
        (readers stop there, at its end) and go on in a new one."""
        try:
            os.ftruncate(self._file.fileno(), size)
        except OSError:
            log.exception("spool %s: could not drop a failed write; sealing the segment", self._path(self._segment))
            self._roll()

    def release(self, ticket: Ticket) -> None:
        """The record's rows are in ClickHouse; its segment may go once nothing else needs it."""
        with self._lock:
            self._outstanding[ticket.segment] -= 1
            if ticket.segment != self._segment and self._outstanding[ticket.segment] == 0:
                self._delete(ticket.segment)

    def _roll(self) -> None:
        """The next segment is opened before the current one is closed: if it cannot be, appends
        go on (or fail) in the current one."""
        old, old_file = self._segment, self._file
        self._file = self._open_segment(old + 1)
        self._segment = old + 1
        old_file.close()
        if self._outstanding[old] == 0:
            self._delete(old)

    def _delete(self, segment: int) -> None:
        self._outstanding.pop(segment, None)
        self._path(segment).unlink(missing_ok=True)

    def recovered(self) -> Iterator[SpoolRecord]:
        """Records left by a previous process, oldest first (read-only; see `drop_recovered`)."""
        for segment in self._recovered:
            yield from read_segment(self._path(segment))

    def drop_recovered(self) -> None:
        """Called once the recovered records are all in ClickHouse."""
        for segment in self._recovered:
            self._path(segment).unlink(missing_ok=True)
        self._recovered = []

    def pending(self) -> int:
        with self._lock:
            return sum(self._outstanding.values())

    def size_bytes(self) -> int:
        """Bytes of every segment on disk (acknowledged requests not yet all in ClickHouse, and the
        open segment): what a full disk would refuse next. A segment deleted meanwhile counts 0."""
        total = 0
        for path in self.directory.glob(f"*{_SUFFIX}"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def close(self) -> None:
        with self._lock:
            self._file.close()
            if self._outstanding.get(self._segment) == 0:
                self._delete(self._segment)


def _encode(record: SpoolRecord) -> bytes:
    header = json.dumps([record.project, record.signal, record.content_type, record.ingest_key]).encode()
    return struct.pack("<I", len(header)) + header + record.body


def _decode(payload: bytes) -> SpoolRecord:
    """Records spooled before the ingest key was kept have a three-item header: no key."""
    (header_len,) = struct.unpack_from("<I", payload)
    project, signal, content_type, *key = json.loads(payload[4 : 4 + header_len])
    return SpoolRecord(project, signal, content_type, payload[4 + header_len :], key[0] if key else "")


def read_segment(path: Path) -> Iterator[SpoolRecord]:
    """Every intact record; a torn tail (a write cut short by a crash) ends the segment."""
    data = path.read_bytes()
    offset = 0
    while offset + _FRAME.size <= len(data):
        magic, length, crc = _FRAME.unpack_from(data, offset)
        payload = data[offset + _FRAME.size : offset + _FRAME.size + length]
        if magic != _MAGIC or len(payload) != length or zlib.crc32(payload) != crc:
            log.warning("spool %s: torn or corrupt record at byte %d; the rest is skipped", path, offset)
            return
        yield _decode(payload)
        offset += _FRAME.size + length
