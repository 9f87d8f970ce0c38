"""The detectors llmpulse runs, in the order a full pass runs them (fresh metrics before alerts)."""

from __future__ import annotations

from detectors.base import Detector
from detectors.metrics import MetricsDetector
from llmpulse.config import Settings


def build_detectors(settings: Settings) -> list[Detector]:
    return [
        MetricsDetector(settings.metrics_interval),
    ]
