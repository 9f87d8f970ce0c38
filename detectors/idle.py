"""A hook called once the detectors have gone quiet, not after every run.

The hook hands memory back (it pages out the library pages the runs faulted in). Called after
each detector, the next detector of the same tick faulted the same pages straight back in:
~0.3-0.5 s a detector, 2 s of a 6 s pass over 1M spans. Held across a tick, it runs once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class IdleHook:
    """`hook` runs `delay` seconds after the last `busy()` block ends, unless another begins first.

    With `delay` 0 it runs at once, on the thread that ended the last block.
    """

    def __init__(self, hook: Callable[[], None], delay: float = 0.0) -> None:
        self.hook, self.delay = hook, delay
        self._active = 0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @contextmanager
    def busy(self) -> Iterator[None]:
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def cancel(self) -> None:
        """Drop a pending call (on shutdown)."""
        with self._lock:
            self._disarm()

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            self._disarm()

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active:
                return
            if self.delay > 0:
                self._arm()
                return
        self._call()

    def _arm(self) -> None:
        self._timer = threading.Timer(self.delay, self._fire)
        self._timer.daemon = True
        self._timer.name = "llmpulse-idle-hook"
        self._timer.start()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        with self._lock:
            if self._active or self._timer is None or self._timer is not threading.current_thread():
                return  # a block began, or a newer timer replaced this one
            self._timer = None
        self._call()

    def _call(self) -> None:
        """The hook's failure must not fail a detector run."""
        try:
            self.hook()
        except Exception:
            log.exception("idle hook failed")
