"""Detector state in a dict: what a unit test hands code that keeps marks in the metadata DB's
state table (`schemas.metadata.runs.StateStore`'s get/set)."""

from __future__ import annotations


class MemoryState:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value
