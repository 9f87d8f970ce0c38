"""What every detector is: a name, an interval and a `run` that reads ClickHouse and writes back.

Detectors get everything they touch as arguments (`DetectorContext`), so tests run them on the
real engine without a scheduler, and the scheduler knows nothing of what they compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.clickhouse.store import Store
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata


@dataclass(frozen=True)
class DetectorContext:
    store: Store
    metadata: Metadata
    state: StateStore
    now: datetime


@dataclass(frozen=True)
class RunResult:
    rows_read: int = 0
    rows_written: int = 0
    message: str = ""


class Detector(Protocol):
    name: str
    interval: float  # seconds between scheduled runs

    def run(self, ctx: DetectorContext) -> RunResult: ...
