"""Access to the shared OTLP corpus (../shared/otlp-corpus) for every test layer.

Payloads are the exact request bodies real instrumentation libraries sent, with a sidecar
JSON per body giving Content-Type and Content-Encoding; MANIFEST.md gives the item count of
each body and ground_truth.json the calls each run really made. CI checks the repository
out with shared/ beside it; `LLMPULSE_CORPUS_DIR` points elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

SIGNALS = ("traces", "logs", "metrics")
_MANIFEST_ROW = re.compile(r"^\| ((?:logs/|metrics/)?\d{3}\.bin) \| (\w+) \| (\d+) \|")
_MANIFEST_RUN = re.compile(r"^### `([^`]+)`")


@dataclass(frozen=True)
class Payload:
    """One recorded request: its body as sent and the headers needed to read it."""

    path: Path
    body: bytes
    content_type: str
    content_encoding: str | None

    @property
    def run_dir(self) -> Path:
        folder = self.path.parent
        return folder.parent if folder.name in ("logs", "metrics") else folder

    @property
    def label(self) -> str:
        """The run this body belongs to (its directory under the corpus)."""
        return self.run_dir.name

    @property
    def name(self) -> str:
        """Path relative to the run directory, as MANIFEST.md lists it (`001.bin`, `logs/002.bin`)."""
        return self.path.relative_to(self.run_dir).as_posix()

    @property
    def decoded_json_path(self) -> Path:
        """The corpus' own OTLP/JSON rendering of this body (hex ids, camelCase, int64 strings)."""
        return self.path.with_suffix(".decoded.json")


def corpus_dir() -> Path:
    """Where the corpus lives: `LLMPULSE_CORPUS_DIR`, else shared/ beside the repository."""
    configured = os.environ.get("LLMPULSE_CORPUS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "otlp-corpus"


def corpus_available() -> bool:
    return (corpus_dir() / "MANIFEST.md").is_file()


# Every corpus test is skipped, saying where it looked, when the corpus is absent (never in CI:
# see conftest.pytest_sessionstart). Tests find the corpus only through this module.
needs_corpus = pytest.mark.skipif(not corpus_available(),
                                  reason=f"OTLP corpus not found at {corpus_dir()} (set LLMPULSE_CORPUS_DIR)")


def labels() -> list[str]:
    """Run labels (one directory per instrumentation run)."""
    return sorted(p.name for p in corpus_dir().iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def payload_files(label: str, signal: str = "traces") -> list[Path]:
    """Body files of one signal in one run, in the order they were sent."""
    folder = corpus_dir() / label if signal == "traces" else corpus_dir() / label / signal
    return sorted(folder.glob("[0-9][0-9][0-9].bin"))


def load_payload(path: Path) -> Payload:
    sidecar = json.loads(path.with_suffix(".json").read_text())
    return Payload(path, path.read_bytes(), sidecar["content_type"], sidecar.get("content_encoding"))


def iter_payload_records(label: str, signal: str = "traces") -> Iterator[Payload]:
    for path in payload_files(label, signal):
        yield load_payload(path)


def iter_payloads(label: str, signal: str = "traces") -> Iterator[tuple[bytes, str, str | None]]:
    """(body as sent, Content-Type, Content-Encoding or None) for each request of a run."""
    for payload in iter_payload_records(label, signal):
        yield payload.body, payload.content_type, payload.content_encoding


def ground_truth(label: str) -> dict[str, Any]:
    """The fake LLM server's ledger for one run: `calls`, `totals`, `recovered_from_spans`, `run`."""
    return _ground_truth_file()[label]


def manifest_items(label: str) -> dict[str, int]:
    """MANIFEST's item count per body of a run, keyed by path relative to the run directory
    (`001.bin`, `logs/002.bin`). Items are spans, log records or metrics (not data points)."""
    return _manifest_tables().get(label, {})


@cache
def _ground_truth_file() -> dict[str, Any]:
    return json.loads((corpus_dir() / "ground_truth.json").read_text())


@cache
def _manifest_tables() -> dict[str, dict[str, int]]:
    tables: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in (corpus_dir() / "MANIFEST.md").read_text().splitlines():
        if run := _MANIFEST_RUN.match(line):
            current = tables.setdefault(run.group(1), {})
        elif current is not None and (row := _MANIFEST_ROW.match(line)):
            current[row.group(1)] = int(row.group(3))
    return tables
