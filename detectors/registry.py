"""The detectors llmpulse runs, in the order a full pass runs them (fresh metrics before alerts)."""

from __future__ import annotations

from datetime import timedelta

from detectors.alerting import AlertsDetector, AlertSettings
from detectors.base import Detector
from detectors.drift import DriftDetector
from detectors.hallucination import HallucinationDetector
from detectors.metrics import MetricsDetector
from detectors.notify.dispatcher import Dispatcher
from detectors.retention import RetentionDetector
from detectors.scoring.judge import JudgeConfig
from llmpulse.config import Settings
from schemas.alerting import AlertStore


def build_detectors(settings: Settings, alerts: AlertStore, dispatcher: Dispatcher) -> list[Detector]:
    alert_settings = AlertSettings(settings.resolved_public_url, timedelta(seconds=settings.renotify_seconds))
    s = settings
    judge = JudgeConfig(s.judge_url, s.judge_model, s.judge_api_key) if s.judge_url else None
    return [
        MetricsDetector(settings.metrics_interval),
        HallucinationDetector(settings.hallucination_interval, judge),
        DriftDetector(settings.drift_interval),
        AlertsDetector(settings.alerts_interval, alerts, dispatcher, alert_settings),
        RetentionDetector(settings.retention_interval),
    ]
