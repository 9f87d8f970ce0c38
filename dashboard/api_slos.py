"""API of SLOs: create, list (each with its error budget and burn rates), show, delete.

Figures are read at request time from the per-minute SLO counts the `slos` detector keeps, one
query for every SLO listed; an SLO the detector has not counted yet says `"counted": false`.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, ApiError, json_body, parse_time, project_arg, takes
from detectors.alerts.detector import state_from_json
from detectors.alerts.rules import AlertInputError
from detectors.alerts.service import Alerting
from detectors.slo.burn import BURN_ALERTS
from detectors.slo.detector import remove_slo
from detectors.slo.spec import parse_slo
from detectors.slo.status import SloStatus, slo_statuses, status_json
from schemas.clickhouse.store import Store
from schemas.metadata.alert_store import StoredSlo
from schemas.metadata.models import utcnow
from schemas.metadata.store import Metadata

AT = ("at",)  # the figures as of this time (ISO-8601 or epoch seconds); now by default
_KEY_BITS = 63  # a ClickHouse UInt64 that also fits a signed BIGINT in SQLite and PostgreSQL


def create_slos_blueprint(store: Store, metadata: Metadata, alerting: Alerting) -> Blueprint:
    api = Blueprint("slos_api", __name__, url_prefix="/api/v1")
    alerts = alerting.alerts

    @api.post("/slos")
    @takes(PROJECT)
    def create_slo() -> Any:
        project = project_arg(metadata)
        spec = parse_slo(json_body(), known_channels=alerts.channel_ids(project)).to_json()
        slo_id = alerts.create_slo(project, secrets.randbits(_KEY_BITS), spec)
        return jsonify({"id": slo_id, **spec}), 201

    @api.get("/slos")
    @takes(PROJECT, AT)
    def list_slos() -> Any:
        slos = alerts.list_slos(project_arg(metadata))
        statuses = slo_statuses(store, slos, _at())
        return jsonify({"slos": [slo_json(s, statuses[s.id]) for s in slos]})

    @api.get("/slos/<int:slo_id>")
    @takes(PROJECT, AT)
    def get_slo(slo_id: int) -> Any:
        project = project_arg(metadata)
        found = alerts.list_slos(project, slo_id)
        if not found:
            raise ApiError(404, f"SLO {slo_id} does not exist in project {project!r}")
        return jsonify(slo_json(found[0], slo_statuses(store, found, _at())[slo_id]))

    @api.delete("/slos/<int:slo_id>")
    @takes(PROJECT)
    def delete_slo(slo_id: int) -> Any:
        if not remove_slo(alerts, project_arg(metadata), slo_id, utcnow()):
            raise ApiError(404, f"SLO {slo_id} does not exist in this project")
        return "", 204

    @api.errorhandler(AlertInputError)
    def _input_error(exc: AlertInputError) -> Any:
        return jsonify({"error": exc.message, "field": exc.field}), exc.status

    return api


def _at() -> Any:
    return parse_time(request.args.get("at"), utcnow(), "at")


def slo_json(slo: StoredSlo, status: SloStatus) -> dict[str, Any]:
    """The SLO, its figures, and each burn-rate alert's state with the incident it opened."""
    burn_alerts = [{"name": a.name, "severity": a.severity, "windows": [a.long, a.short], "factor": a.factor,
                    "state": state_from_json(slo.state.get(a.name, {})).state,
                    "incident_id": slo.state.get(f"{a.name}_incident")} for a in BURN_ALERTS]
    created = slo.created_at.isoformat() if slo.created_at else None
    return {"id": slo.id, **slo.spec, **status_json(status), "alerts": burn_alerts, "created_at": created}
