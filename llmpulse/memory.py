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
from functools import cache

import pyarrow as pa

log = logging.getLogger(__name__)

# glibc mallopt parameters
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MMAP_THRESHOLD = 256 * 1024


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
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
