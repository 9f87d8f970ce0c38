"""`/healthz` and `/readyz`, answered alike on both ports (OTLP and UI).

Here rather than in either app because the collector and the dashboard may both import
`schemas/` but not each other (as with `schemas/hosts.py`, whose exempt paths these are).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


def add_health_routes(app: Flask, ready: Callable[[], bool], health: Callable[[], dict[str, Any]] = dict) -> None:
    """/healthz: the process answers. /readyz: storage answers (else 503), plus what `health`
    adds where the process writes spans (rows in the ingest dead letter)."""
    app.add_url_rule("/healthz", "healthz", lambda: ({"status": "ok"}, 200))

    def readyz() -> tuple[dict[str, Any], int]:
        up = ready()
        return {"status": "ready" if up else "storage unavailable", **health()}, 200 if up else 503

    app.add_url_rule("/readyz", "readyz", readyz)
