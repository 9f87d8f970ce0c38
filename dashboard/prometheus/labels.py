"""Bounded label values: per project, the busiest models, providers and services keep their names
and the rest are `other`, so a misbehaving app that sends a new model name per call cannot grow
Prometheus's series without bound. A user, session or trace id is never a label."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

OTHER = "other"


def busiest(volumes: dict[str, float], n: int) -> frozenset[str]:
    """The `n` values with the largest volume (ties by name, so the choice is stable); all of them
    when there are at most `n`."""
    ranked = sorted(volumes, key=lambda value: (-volumes[value], value))
    return frozenset(ranked[:n])


def fold(value: str, kept: frozenset[str]) -> str:
    return value if value in kept else OTHER


class Ranking:
    """Per project and dimension, which values keep their name (busiest by all-time calls)."""

    def __init__(self, rows: Iterable[tuple[str, dict[str, str], float]], n: int) -> None:
        volumes: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for project, values, volume in rows:
            for dimension, value in values.items():
                volumes[(project, dimension)][value] += volume
        self._kept = {key: busiest(found, n) for key, found in volumes.items()}

    def label(self, project: str, dimension: str, value: str) -> str:
        return fold(value, self._kept.get((project, dimension), frozenset()))
