"""API of guards (the LLM circuit breaker): define them, list them, and the status a gateway polls.

`GET /guard/status` answers JSON from the in-memory snapshot (dashboard.guard_cache): no
database and no ClickHouse query per call, so a gateway can ask before every LLM call.
`GET /guard/check` is the same decision for proxies that only look at a status code (Envoy
ext_authz, nginx auth_request): 200 when allowed, else 429 (or 403, `deny_status=403`, because
nginx's auth_request treats any status but 2xx, 401 and 403 as an error) with Retry-After.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from dashboard.guard_cache import GuardCache
from dashboard.params import PROJECT, ApiError, json_body, project_arg, takes
from detectors.alerts.guard_rules import CLOSED, parse_guard, state_from_json, stored_guard
from detectors.alerts.guard_status import STATUS_KEYS, guard_status
from detectors.alerts.incidents import RESOLVED, IncidentState
from detectors.alerts.rules import AlertInputError
from detectors.alerts.service import Alerting
from schemas.metadata.guard_store import StoredGuard
from schemas.metadata.models import DEFAULT_PROJECT, utcnow
from schemas.metadata.store import Metadata

DENY_STATUSES = ("429", "403")
STATE_HEADER = "X-Llmpulse-Guard-State"


def create_guards_blueprint(metadata: Metadata, alerting: Alerting, cache: GuardCache) -> Blueprint:
    api = Blueprint("guards_api", __name__, url_prefix="/api/v1")
    guards = cache.guards

    @api.post("/guards")
    @takes(PROJECT)
    def create_guard() -> Any:
        guard_id, spec = add_guard(alerting, cache, project_arg(metadata), json_body())
        return jsonify({"id": guard_id, **spec}), 201

    @api.get("/guards")
    @takes(PROJECT)
    def list_guards() -> Any:
        return jsonify({"guards": [_guard_json(g) for g in guards.list(project_arg(metadata))]})

    @api.get("/guards/<int:guard_id>")
    @takes(PROJECT)
    def get_guard(guard_id: int) -> Any:
        found = next((g for g in guards.list(project_arg(metadata)) if g.id == guard_id), None)
        if found is None:
            raise ApiError(404, missing_guard(guard_id))
        return jsonify(_guard_json(found))

    @api.delete("/guards/<int:guard_id>")
    @takes(PROJECT)
    def delete_guard(guard_id: int) -> Any:
        if not remove_guard(alerting, cache, project_arg(metadata), guard_id):
            raise ApiError(404, missing_guard(guard_id))
        return "", 204

    @api.get("/guard/status")
    @takes(PROJECT, STATUS_KEYS)
    def status() -> Any:
        """May this call go ahead? From memory only: the snapshot the cache refreshes."""
        return jsonify(_status(cache))

    @api.get("/guard/check")
    @takes(PROJECT, STATUS_KEYS, ("deny_status",))
    def check() -> Any:
        """The status as a status code, for proxies: 200 or 429/403 with Retry-After."""
        deny = request.args.get("deny_status", "429")
        if deny not in DENY_STATUSES:
            raise ApiError(400, f"deny_status must be one of {', '.join(DENY_STATUSES)}, not {deny!r}")
        answer = _status(cache)
        response: Response = jsonify(answer)
        response.status_code = 200 if answer["allowed"] else int(deny)
        response.headers[STATE_HEADER] = answer["state"]
        if not answer["allowed"]:
            response.headers["Retry-After"] = str(answer["retry_after_s"])
        return response

    @api.errorhandler(AlertInputError)
    def _input_error(exc: AlertInputError) -> Any:
        return jsonify({"error": exc.message, "field": exc.field}), exc.status

    return api


def add_guard(alerting: Alerting, cache: GuardCache, project: str, payload: Any) -> tuple[int, dict[str, Any]]:
    """Validate and store a guard, then refresh the status snapshot so gateways see it at once.
    The API and the Alerts page's form both come here: one check (`parse_guard`), one wording."""
    spec = parse_guard(payload, known_channels=alerting.alerts.channel_ids(project)).to_json()
    guard_id = cache.guards.create(project, spec)
    cache.refresh()
    return guard_id, spec


def remove_guard(alerting: Alerting, cache: GuardCache, project: str, guard_id: int) -> bool:
    """Delete a guard (False: no such guard in the project), resolving its open incident; shared by
    the API and the Alerts page so a delete from either has the same consequences."""
    found = next((g for g in cache.guards.list(project) if g.id == guard_id), None)
    if found is None or not cache.guards.delete(project, guard_id):
        return False
    _resolve_open_incident(alerting, found)
    cache.refresh()
    return True


def missing_guard(guard_id: int) -> str:
    return f"guard {guard_id} does not exist in this project"


def _status(cache: GuardCache) -> dict[str, Any]:
    """The project is checked against the snapshot's names, so even a 404 costs no query."""
    snapshot = cache.snapshot
    project = request.args.get("project") or DEFAULT_PROJECT
    if project not in snapshot.projects:
        raise ApiError(404, f"project {project!r} does not exist")
    call = {key: request.args[key] for key in STATUS_KEYS if request.args.get(key)}
    return guard_status(snapshot, project, call, cache.clock(), cache.trickle)


def _resolve_open_incident(alerting: Alerting, guard: StoredGuard) -> None:
    """A deleted guard refuses nothing any more: its incident, if still open, is resolved with it and
    the all-clear goes to its channels (a PagerDuty incident it triggered is closed)."""
    state = state_from_json(guard.state)
    if guard.incident_id is None or state.state == CLOSED:
        return
    now, spec = utcnow(), stored_guard(guard.spec)
    alerting.alerts.resolve_incident(guard.incident_id, now, "guard deleted")
    if spec.rule.channels and alerting.engine is not None:
        done = IncidentState(state=RESOLVED, firing_since=state.opened_at or now, resolved_at=now)
        message = alerting.engine.notification(guard.project, guard.incident_id, spec.rule, "resolved", done,
                                               state.value)
        alerting.dispatcher.notify(guard.project, guard.incident_id, spec.rule.channels, message)


def _guard_json(guard: StoredGuard) -> dict[str, Any]:
    state = state_from_json(guard.state)
    return {"id": guard.id, **guard.spec, **state.to_json(), "incident_id": guard.incident_id,
            "evaluated_at": guard.evaluated_at.isoformat() if guard.evaluated_at else None}
