"""Memory hygiene: paging out a library's resident file pages really drops them, and loses nothing."""

from __future__ import annotations

import ctypes
import mmap
from pathlib import Path

from llmpulse.memory import page_out_files
from tests.procfs import resident_kb

SIZE = 8 * 2**20


def test_paging_out_a_mapping_drops_its_resident_pages_and_the_data_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "libfake_engine.so"
    content = bytes(range(256)) * (SIZE // 256)
    path.write_bytes(content)
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert sum(mapped[i] for i in range(0, SIZE, mmap.PAGESIZE)) >= 0  # touch every page
        assert resident_kb("libfake_engine") >= SIZE // 1024 - 64
        assert page_out_files("libfake_engine") >= SIZE
        assert resident_kb("libfake_engine") < 1024
        assert mapped[:] == content  # clean file pages fault back in unchanged


def test_a_file_that_is_not_mapped_advises_nothing() -> None:
    assert page_out_files("/no/such/library.so") == 0


def test_pseudo_mappings_are_not_files(tmp_path: Path) -> None:
    """Anonymous memory (the heap) has no file to read it back from: it is never advised."""
    with mmap.mmap(-1, 4 * mmap.PAGESIZE) as anonymous:
        start = ctypes.addressof(ctypes.c_char.from_buffer(anonymous))
        maps = tmp_path / "maps"
        maps.write_text(f"{start:x}-{start + 4 * mmap.PAGESIZE:x} rw-p 00000000 00:00 0 [heap]\n")
        assert page_out_files("", maps) == 0
        maps.write_text(f"{start:x}-{start + 4 * mmap.PAGESIZE:x} rw-p 00000000 00:00 0 /looks/like/a/file\n")
        assert page_out_files("", maps) == 4 * mmap.PAGESIZE  # the same range, were it a file
