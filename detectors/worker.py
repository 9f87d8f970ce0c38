"""SciPy and scikit-learn work, done in a short-lived child process.

Importing scikit-learn and SciPy costs a process ~115 MB that it keeps for good (~180 MB when
scikit-learn also finds pandas, which the child therefore cannot import), and in embedded mode
the collector shares the detectors' process. Groundedness scoring and drift need them for
seconds every few minutes, so the child imports them, works through one batch of calls and
exits, and the memory goes back to the system.

The parent writes a pickled target to the child's stdin at once and the pickled calls when it
has them (`Worker`); the child imports the target in between, and answers with a pickled list
holding one result, or one `Failed`, per call. Both ends are this module, so pickle carries
numpy arrays and dataclasses as they are, and nothing else speaks to the child.
"""

from __future__ import annotations

import importlib
import importlib.abc
import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Installed (chDB needs pandas) but never used by the child's work, while scikit-learn imports
# pandas whenever it can: ~60 MB of the child's ~180 MB resident, for nothing.
UNUSED_IMPORTS = ("pandas",)
TIMEOUT_SECONDS = 600.0  # a run's batch is bounded (500 spans, 3,000 calls a window): minutes mean a hang
Call = tuple[tuple[Any, ...], dict[str, Any]]  # positional and keyword arguments of one call


@dataclass(frozen=True)
class Failed:
    """One call raised in the child; the other calls of the batch still count."""

    error: str


class WorkerError(RuntimeError):
    """The child itself failed: it crashed, hung, or answered something unreadable."""


def run_batch(target: str, calls: Sequence[Call], timeout: float = TIMEOUT_SECONDS) -> list[Any]:
    """`target` ("module:function") applied to each call in a fresh child process, in order."""
    if not calls:
        return []
    with Worker(target, timeout) as worker:
        return worker.run(calls)


class Worker:
    """A child started before its calls are ready: it imports `target` while the caller still
    queries for them (SciPy and scikit-learn take ~1.2 s to import, drift's reads ~1 s)."""

    def __init__(self, target: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.target, self.timeout = target, timeout
        self._child = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._send(pickle.dumps(target, protocol=pickle.HIGHEST_PROTOCOL))

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def run(self, calls: Sequence[Call]) -> list[Any]:
        """Each call's result, or its `Failed`, in order; the child exits after answering."""
        request = pickle.dumps(list(calls), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            answer, stderr = self._child.communicate(request, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            self.close()
            raise WorkerError(f"{self.target}: no answer within {self.timeout:.0f} s") from exc
        if self._child.returncode != 0:
            raise WorkerError(f"{self.target}: the worker exited with status {self._child.returncode}: "
                              f"{_tail(stderr)}")
        if stderr.strip():
            log.warning("worker %s: %s", self.target, _tail(stderr))
        return _read_answer(self.target, answer, len(calls))

    def close(self) -> None:
        """Stop a child that was never given its calls, or overran; reap it either way."""
        if self._child.poll() is None:
            self._child.kill()
        self._child.wait()
        for pipe in (self._child.stdin, self._child.stdout, self._child.stderr):
            if pipe is not None:
                pipe.close()

    def _send(self, data: bytes) -> None:
        """The target goes first; a child that already died says why when its calls are sent."""
        stdin = self._child.stdin
        if stdin is None:
            raise WorkerError(f"{self.target}: the worker has no stdin")
        try:
            stdin.write(data)
            stdin.flush()
        except BrokenPipeError:
            pass


def _read_answer(target: str, answer: bytes, expected: int) -> list[Any]:
    try:
        results = pickle.loads(answer)
    except Exception as exc:  # a truncated or foreign stdout: whatever it is, the batch is lost
        raise WorkerError(f"{target}: unreadable answer ({type(exc).__name__}: {exc})") from exc
    if not isinstance(results, list) or len(results) != expected:
        raise WorkerError(f"{target}: expected {expected} result(s), got {_count(results)}")
    return results


def _count(results: object) -> str:
    return str(len(results)) if isinstance(results, list) else type(results).__name__


def _tail(stderr: bytes, limit: int = 2000) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text[-limit:] if text else "(nothing on stderr)"


# --- the child -------------------------------------------------------------------------------------


def serve_batch() -> None:
    """Read one batch from stdin, answer it on stdout; library output goes to stderr, not the answer."""
    answer = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    block_unused_imports()
    function = resolve_target(pickle.load(sys.stdin.buffer))  # imports while the parent prepares the calls
    calls = pickle.load(sys.stdin.buffer)
    pickle.dump([_call(function, args, kwargs) for args, kwargs in calls], answer,
                protocol=pickle.HIGHEST_PROTOCOL)
    answer.close()


class _Unfindable(importlib.abc.MetaPathFinder):
    """Finds no UNUSED_IMPORTS module, as if not installed. Not a None in sys.modules: libraries
    that test `"pandas" in sys.modules` would then take it for imported (scikit-learn does)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".", 1)[0] in UNUSED_IMPORTS:
            raise ModuleNotFoundError(f"No module named {fullname!r} (not used by the worker)", name=fullname)
        return None


def block_unused_imports() -> None:
    """Libraries that import UNUSED_IMPORTS only if they can do without them in the child."""
    sys.meta_path.insert(0, _Unfindable())


def resolve_target(target: str) -> Callable[..., Any]:
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"a worker target is 'module:function', got {target!r}")
    return getattr(importlib.import_module(module), name)


def _call(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as exc:  # one odd input must not cost the batch
        return Failed(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":  # run as `python -m detectors.worker`; the real module pickles `Failed` by its name
    from detectors.worker import serve_batch as serve_from_module

    serve_from_module()
