"""What every page of the UI reads from: the same store and metadata as the JSON API.

Its own module so pages import it without reaching back into the app that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import request

from dashboard.guard_cache import GuardCache
from detectors.alerts.service import Alerting
from detectors.runner import DetectorRunner
from evals.service import ExperimentService
from schemas.clickhouse.store import Store
from schemas.metadata.alert_store import AlertStore
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

# Where `llmpulse demo` sends by default: (its --endpoint, its --url).
DEMO_DEFAULTS = {(f"http://{host}:4318", f"http://{host}:8050") for host in ("127.0.0.1", "localhost")}


@dataclass(frozen=True)
class UiContext:
    """What pages read from: the same store and metadata as the JSON API."""

    store: Store
    metadata: Metadata
    state: StateStore
    alerting: Alerting | None = None
    login_required: bool = False
    otlp_port: int = 4318  # where the collector listens, for the "point your exporter here" lines
    experiments: ExperimentService | None = None  # the runner the API starts experiments with; None: not here
    guards: GuardCache | None = None  # the guard status snapshot: the Alerts page's changes refresh it, as the API's do
    detectors: DetectorRunner | None = None  # the runner POST /detectors/run uses; None: detectors run elsewhere

    @property
    def alerts(self) -> AlertStore | None:
        return self.alerting.alerts if self.alerting else None

    def collector_endpoint(self) -> str:
        """The collector's URL for an exporter: the host the browser reached the UI on (the
        collector listens there too, same process or host) with the collector's port."""
        host = urlsplit(f"//{request.host}").hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{request.scheme}://{host}:{self.otlp_port}"

    def demo_command(self) -> str:
        """`llmpulse demo` with the endpoints it needs to reach this service: none where its defaults
        do (loopback, default ports), else the collector's and this UI's own URLs."""
        endpoint, ui_url = self.collector_endpoint(), request.host_url.rstrip("/")
        if (endpoint, ui_url) in DEMO_DEFAULTS:
            return "llmpulse demo"
        return f"llmpulse demo --endpoint {endpoint} --url {ui_url}"
