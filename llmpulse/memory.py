"""Process-wide memory hygiene for the ingest path: keep freed memory from lingering in RSS.

Measured under sustained 1,000-span OTLP requests (bench/bench_ingest.py), what RSS held after
the writer's queue was bounded was memory already freed but kept by allocators: glibc's arenas
(Python objects and request bodies), pyarrow's mimalloc pool, and chDB's jemalloc (see
`Store.release_memory`). Each batch the writer finishes hands its freed memory back here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pyarrow as pa

log = logging.getLogger(__name__)

# glibc mallopt parameters
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MMAP_THRESHOLD = 256 * 1024
_MADV_PAGEOUT = 21  # Linux 5.4+: reclaim these pages now; touched again, they fault back in


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def tune_malloc(arenas: int = 2) -> None:
    """Fewer glibc arenas, and big blocks always mmap'd so that freeing them returns them.

    Each HTTP thread would otherwise fragment an arena of its own, and glibc's sliding mmap
    threshold would soon put every 1.6 MB request body and Arrow buffer inside the arenas.
    """
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


def use_system_arrow_pool() -> None:
    """Arrow buffers from malloc, so `release_heap` returns them too (mimalloc keeps its pages)."""
    pa.set_memory_pool(pa.system_memory_pool())


def release_heap() -> None:
    """Give the free pages of every glibc arena back to the OS; no-op off glibc."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def freeze_startup_objects() -> None:
    """Put what start-up allocated out of the cyclic GC's reach; it lives as long as the process.

    Start-up leaves ~200k objects (Flask, Dash, plotly, scikit-learn). Every full collection,
    which the writer's rows trigger every few batches, walked them all: 100-150 ms with the GIL
    held, which each request in flight waited out (the half-load ack p99).
    """
    gc.collect()
    gc.freeze()


def page_out_files(fragment: str = "/", maps: Path = Path("/proc/self/maps")) -> int:
    """Page out the files this process maps (paths containing `fragment`); returns the bytes of mappings advised.

    Start-up touches code it never runs again: ClickHouse registers every function, format and
    engine (~240 MB of chDB's 555 MB library resident; its inserts and our queries use ~80 MB),
    and imports initialise libraries llmpulse never calls (pyarrow's Parquet, Substrait, Dataset).
    Those clean file pages stay in RSS until the kernel needs the memory. Paged out after
    start-up, the pages in use fault back in; nothing is lost, since a clean page of a file can
    always be read again, and pages other processes map too are left alone by the kernel.
    No-op where madvise or the maps are missing.
    """
    libc = _libc()
    if libc is None or not maps.exists():
        return 0
    advised = 0
    for start, end in _file_ranges(maps, fragment):
        if libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_PAGEOUT) == 0:
            advised += end - start
        else:
            log.debug("madvise(MADV_PAGEOUT) refused for %s: %s", fragment, os.strerror(ctypes.get_errno()))
    return advised


def _file_ranges(maps: Path, fragment: str) -> Iterator[tuple[int, int]]:
    """Address ranges of mapped files ([heap], [stack] and other pseudo-paths are not files)."""
    for line in maps.read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/") and fragment in fields[5]:
            start, _, end = fields[0].partition("-")
            yield int(start, 16), int(end, 16)
