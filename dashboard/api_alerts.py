"""API of alerting: channels, alert rules, budgets and the kill switch, incidents (ack, silence)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, ApiError, choice_arg, int_arg, json_body, parse_time, project_arg, takes
from detectors.alerts.budget_rules import BUDGET_CALL_KEYS, BudgetSpec, BudgetStatus, parse_budget
from detectors.alerts.budget_spend import status_for_call, stored_budget
from detectors.alerts.channels import parse_channel
from detectors.alerts.detector import state_from_json
from detectors.alerts.incidents import IncidentError
from detectors.alerts.removal import remove_budget, remove_rule
from detectors.alerts.rules import AlertInputError, merge_rule, parse_duration, parse_rule
from detectors.alerts.service import (
    ActionRefused,
    Alerting,
    ChannelTestOutcome,
    acknowledge_incident,
    find_incident,
    send_test,
)
from detectors.alerts.service import delete_channel as delete_channel_in_use
from detectors.alerts.service import silence_incident as alerts_silence
from schemas.clickhouse.rollup import rollup_span
from schemas.clickhouse.store import Store
from schemas.metadata.alert_store import AlertStore, StoredSpec
from schemas.metadata.models import utcnow
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

INCIDENT_STATES = ("pending", "firing", "resolved")


def create_alerts_blueprint(store: Store, metadata: Metadata, alerting: Alerting) -> Blueprint:
    api = Blueprint("alerts_api", __name__, url_prefix="/api/v1")
    alerts, default_renotify = alerting.alerts, alerting.default_renotify
    state = StateStore(metadata)

    def rule_spec(project: str, body: Any) -> dict[str, Any]:
        return parse_rule(body, known_channels=alerts.channel_ids(project), default_renotify=default_renotify
                          ).to_json()

    @api.post("/channels")
    @takes(PROJECT)
    def create_channel() -> Any:
        project, spec = project_arg(metadata), parse_channel(json_body())
        channel_id = alerts.create_channel(project, spec.type, spec.name, spec.secrets, spec.hint)
        return jsonify({"id": channel_id, "type": spec.type, "name": spec.name, "target": spec.hint}), 201

    @api.get("/channels")
    @takes(PROJECT)
    def list_channels() -> Any:
        return jsonify({"channels": alerts.list_channels(project_arg(metadata))})

    @api.delete("/channels/<int:channel_id>")
    @takes(PROJECT)
    def delete_channel(channel_id: int) -> Any:
        delete_channel_in_use(alerts, project_arg(metadata), channel_id)
        return "", 204

    @api.post("/channels/<int:channel_id>/test")
    @takes(PROJECT)
    def test_channel(channel_id: int) -> Any:
        return _test_answer(send_test(alerting, project_arg(metadata), channel_id))

    @api.get("/channels/<int:channel_id>/deliveries")
    @takes(PROJECT, ("limit",))
    def channel_deliveries(channel_id: int) -> Any:
        project = project_arg(metadata)
        return jsonify({"deliveries": alerts.list_deliveries(project, channel_id, int_arg("limit", 100, 1, 1000))})

    @api.post("/alert-rules")
    @takes(PROJECT)
    def create_rule() -> Any:
        project = project_arg(metadata)
        spec = rule_spec(project, json_body())
        return jsonify({"id": alerts.create_rule(project, spec), **spec}), 201

    @api.get("/alert-rules")
    @takes(PROJECT)
    def list_rules() -> Any:
        return jsonify({"rules": [_rule_json(r) for r in alerts.list_rules(project_arg(metadata))]})

    @api.get("/alert-rules/<int:rule_id>")
    @takes(PROJECT)
    def get_rule(rule_id: int) -> Any:
        return jsonify(_rule_json(_find_rule(alerts, project_arg(metadata), rule_id)))

    @api.put("/alert-rules/<int:rule_id>")
    @takes(PROJECT)
    def update_rule(rule_id: int) -> Any:
        project = project_arg(metadata)
        existing = parse_rule(_find_rule(alerts, project, rule_id).spec, known_channels=alerts.channel_ids(project),
                              default_renotify=default_renotify)
        spec = merge_rule(existing, json_body(), known_channels=alerts.channel_ids(project)).to_json()
        alerts.update_rule(project, rule_id, spec)
        return jsonify({"id": rule_id, **spec})

    @api.delete("/alert-rules/<int:rule_id>")
    @takes(PROJECT)
    def delete_rule(rule_id: int) -> Any:
        return _deleted(remove_rule(alerts, alerting.engine, project_arg(metadata), rule_id, utcnow()),
                        "alert rule", rule_id)

    @api.post("/budgets")
    @takes(PROJECT)
    def create_budget() -> Any:
        project = project_arg(metadata)
        spec = parse_budget(json_body(), known_channels=alerts.channel_ids(project)).to_json()
        return jsonify({"id": alerts.create_budget(project, spec), **spec}), 201

    @api.get("/budgets")
    @takes(PROJECT)
    def list_budgets() -> Any:
        return jsonify({"budgets": [{"id": b.id, **b.spec} for b in alerts.list_budgets(project_arg(metadata))]})

    @api.delete("/budgets/<int:budget_id>")
    @takes(PROJECT)
    def delete_budget(budget_id: int) -> Any:
        return _deleted(remove_budget(alerts, project_arg(metadata), budget_id, utcnow()), "budget", budget_id)

    @api.get("/budget/status")
    @takes(PROJECT, BUDGET_CALL_KEYS)
    def budget_status() -> Any:
        """The kill switch an LLM gateway polls: may this project (this call's model, user, tag, the
        ingest key it will be sent with) still spend?"""
        project, now, rollup = project_arg(metadata), utcnow(), rollup_span(state)
        call = {key: request.args[key] for key in BUDGET_CALL_KEYS if request.args.get(key)}
        budgets = [(b, stored_budget(b)) for b in alerts.list_budgets(project)]
        held = [(b, spec, status_for_call(store, project, spec, call, now, rollup))
                for b, spec in budgets if _covers(spec, call)]
        covering = [(b, status) for b, _, status in held if status is not None]
        none = "no budget of this project covers this call" if budgets else "no budget set for this project"
        if any(status is None for *_, status in held):
            none = ("only budgets per user, tag or ingest key cover this call: pass user=, tag= or ingest_key= "
                    "(see not_applicable)")
        answer = _budget_answer(project, covering, none)
        answer["budgets"] = [{**entry, **_per_value(entry, call)} for entry in answer["budgets"]]
        answer["not_applicable"] = [_needs_value(b, spec) for b, spec, status in held if status is None]
        return jsonify(answer)

    @api.get("/alerts")
    @takes(PROJECT, ("state", "limit"))
    def list_incidents() -> Any:
        project = project_arg(metadata)
        wanted = choice_arg("state", INCIDENT_STATES, None)
        # A bare list, as the API contract has it; each with its timeline and deliveries.
        return jsonify(alerts.list_incidents(project, wanted, int_arg("limit", 100, 1, 1000)))

    @api.get("/alerts/<int:incident_id>")
    @takes(PROJECT)
    def get_incident(incident_id: int) -> Any:
        return jsonify(find_incident(alerts, project_arg(metadata), incident_id))

    @api.post("/alerts/<int:incident_id>/ack")
    @takes(PROJECT, ("by",))
    def ack_incident(incident_id: int) -> Any:
        by = request.args.get("by", "")
        return jsonify(acknowledge_incident(alerts, project_arg(metadata), incident_id, by, utcnow()))

    @api.post("/alerts/<int:incident_id>/silence")
    @takes(PROJECT)
    def silence_incident(incident_id: int) -> Any:
        now = utcnow()
        until = _silence_until(json_body(), now)
        return jsonify(alerts_silence(alerts, project_arg(metadata), incident_id, until, now))

    @api.errorhandler(AlertInputError)
    def _input_error(exc: AlertInputError) -> Any:
        return jsonify({"error": exc.message, "field": exc.field}), exc.status

    @api.errorhandler(ActionRefused)
    def _refused(exc: ActionRefused) -> Any:
        return jsonify({"error": exc.message}), exc.status

    @api.errorhandler(IncidentError)
    def _incident_error(exc: IncidentError) -> Any:
        return jsonify({"error": exc.message}), exc.status

    return api


def _test_answer(outcome: ChannelTestOutcome) -> Any:
    """200 or 502 with the endpoint's answer; 202 while it has not answered, with where to look."""
    common = {"delivery_id": outcome.delivery_id, "joined": outcome.joined}
    result = outcome.result
    if result is None:
        return jsonify({**common, "status": "pending", "ok": None,
                        "poll": f"/api/v1/channels/{outcome.channel_id}/deliveries"}), 202
    return jsonify({**common, "status": "sent" if result.ok else "failed", "ok": result.ok,
                    "http_status": result.status, "attempts": result.attempts, "error": result.error}), \
        (200 if result.ok else 502)


def _deleted(found: bool, what: str, item_id: int) -> Any:
    if not found:
        raise ApiError(404, f"{what} {item_id} does not exist in this project")
    return "", 204


def _find_rule(alerts: AlertStore, project: str, rule_id: int) -> StoredSpec:
    rule = alerts.get_rule(project, rule_id)
    if rule is None:
        raise ApiError(404, f"alert rule {rule_id} does not exist in project {project!r}")
    return rule


def _rule_json(rule: StoredSpec) -> dict[str, Any]:
    state = state_from_json(rule.state)
    return {"id": rule.id, **rule.spec, "state": state.state, "incident_id": rule.incident_id,
            "created_at": rule.created_at.isoformat() if rule.created_at else None}


def _silence_until(body: dict[str, Any], now: Any) -> Any:
    if "until" in body:
        return parse_time(str(body["until"]), now, "until")
    if "for" in body:
        return now + parse_duration(body["for"], "for")
    raise ApiError(400, 'give "for" (e.g. "1h") or "until" (an ISO-8601 time)')


def _covers(budget: BudgetSpec, call: dict[str, str]) -> bool:
    """A budget speaks for a call unless one of its filters names another value of what the call
    is: what the gateway does not say (no `user=`) cannot excuse a call from a budget."""
    return all(call.get(key, value) == value for key, value in budget.filters)


def _per_value(entry: dict[str, Any], call: dict[str, str]) -> dict[str, Any]:
    """A budget per user (tag) says whose status it gave."""
    per = entry.get("per")
    return {"value": call[per]} if per else {}


def _needs_value(stored: StoredSpec, spec: BudgetSpec) -> dict[str, Any]:
    """A budget per user (tag) holds no call that names none: listed, not counted, with what to pass."""
    return {"id": stored.id, **stored.spec,
            "note": f"a budget per {spec.per}: pass {spec.per}= to get that {spec.per}'s status"}


def _budget_answer(project: str, statuses: list[tuple[StoredSpec, BudgetStatus]], none: str) -> dict[str, Any]:
    """The tightest budget speaks for the project; every budget is listed beside it (`none`: why there is none)."""
    if not statuses:
        return {"project": project, "allowed": True, "spent_usd": None, "budget_usd": None, "projected_usd": None,
                "period_end": None, "budgets": [], "reason": none}
    _, tightest = max(statuses, key=lambda item: item[1].used_pct)
    return {"project": project, **tightest.to_json(), "allowed": all(s.allowed for _, s in statuses),
            "budgets": [{"id": b.id, **b.spec, "status": s.to_json()} for b, s in statuses]}


