"""Metadata access for alerting: channels (secrets sealed), rules, budgets, incidents, deliveries.

Specs travel as the API's JSON dicts; validating them is `detectors.alerts`' job, storing them
is this module's. Every call is scoped to a project by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from schemas.metadata.alert_tables import (
    AlertRuleRow,
    BudgetRow,
    ChannelRow,
    DeliveryRow,
    GuardRow,
    IncidentEventRow,
    IncidentRow,
    SloRow,
)
from schemas.metadata.models import Project, utcnow
from schemas.metadata.secrets import SecretBox
from schemas.metadata.store import Metadata


@dataclass(frozen=True)
class StoredSpec:
    """A rule or budget as stored: its id, project, spec (API JSON) and engine state."""

    id: int
    project: str
    spec: dict[str, Any]
    state: dict[str, Any]
    incident_id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class StoredSlo:
    """An SLO as stored: its id, project, counting key, spec (API JSON) and engine state."""

    id: int
    project: str
    key: int
    spec: dict[str, Any]
    state: dict[str, Any]
    created_at: datetime | None = None


class AlertStore:
    def __init__(self, metadata: Metadata, box: SecretBox) -> None:
        self.metadata, self.box = metadata, box

    def _project_id(self, project: str) -> int:
        return self.metadata.require_project(project).id

    # --- channels ------------------------------------------------------------------------------

    def create_channel(self, project: str, kind: str, name: str, secrets: dict[str, str], hint: str) -> int:
        row = ChannelRow(project_id=self._project_id(project), type=kind, name=name,
                         secrets=self.box.seal(secrets), hint=hint)
        return self._add(row)

    def list_channels(self, project: str) -> list[dict[str, Any]]:
        """Never the secrets: only what identifies the channel to a person."""
        with self.metadata.session() as db:
            rows = db.scalars(select(ChannelRow).where(ChannelRow.project_id == self._project_id(project))
                              .order_by(ChannelRow.id))
            return [_channel_json(row) for row in rows]

    def channel_secrets(self, project: str, channel_id: int) -> tuple[dict[str, Any], dict[str, str]] | None:
        with self.metadata.session() as db:
            row = db.get(ChannelRow, channel_id)
            if row is None or row.project_id != self._project_id(project):
                return None
            return _channel_json(row), self.box.open(row.secrets)

    def delete_channel(self, project: str, channel_id: int) -> bool:
        return self._delete(ChannelRow, project, channel_id)

    def channel_users(self, project: str, channel_id: int) -> list[str]:
        """The rules, budgets, SLOs and guards that notify a channel, e.g. ["rule 3", "budget 1", "slo 2"]."""
        specs: list[tuple[str, int, dict[str, Any]]] = [("rule", r.id, r.spec) for r in self.list_rules(project)]
        specs += [("budget", b.id, b.spec) for b in self.list_budgets(project)]
        specs += [("slo", s.id, s.spec) for s in self.list_slos(project)]
        specs += [("guard", g.id, g.spec) for g in self._list_specs(GuardRow, project)]
        return [f"{kind} {spec_id}" for kind, spec_id, spec in specs if channel_id in (spec.get("channels") or ())]

    def channel_ids(self, project: str) -> set[int]:
        return channel_ids(self.metadata, project)

    # --- rules and budgets ---------------------------------------------------------------------

    def create_rule(self, project: str, spec: dict[str, Any]) -> int:
        return self._add(AlertRuleRow(project_id=self._project_id(project), spec=json.dumps(spec)))

    def list_rules(self, project: str | None = None) -> list[StoredSpec]:
        return self._list_specs(AlertRuleRow, project)

    def get_rule(self, project: str | None, rule_id: int) -> StoredSpec | None:
        """One rule by id (in `project`, or in any project when None)."""
        found = self._list_specs(AlertRuleRow, project, row_id=rule_id)
        return found[0] if found else None

    def update_rule(self, project: str, rule_id: int, spec: dict[str, Any]) -> bool:
        return self._update(AlertRuleRow, project, rule_id, spec=json.dumps(spec))

    def save_rule_state(self, rule_id: int, state: dict[str, Any], incident_id: int | None) -> None:
        self._save_state(AlertRuleRow, rule_id, json.dumps(state), incident_id=incident_id)

    def delete_rule(self, project: str, rule_id: int) -> bool:
        return self._delete(AlertRuleRow, project, rule_id)

    def create_budget(self, project: str, spec: dict[str, Any]) -> int:
        return self._add(BudgetRow(project_id=self._project_id(project), spec=json.dumps(spec)))

    def list_budgets(self, project: str | None = None) -> list[StoredSpec]:
        return self._list_specs(BudgetRow, project)

    def save_budget_progress(self, budget_id: int, period_start: datetime,
                             notified: list[int] | dict[str, list[int]]) -> None:
        with self.metadata.session() as db:
            row = db.get(BudgetRow, budget_id)
            if row is not None:
                row.period_start, row.notified = period_start, json.dumps(notified)
                db.commit()

    def delete_budget(self, project: str, budget_id: int) -> bool:
        return self._delete(BudgetRow, project, budget_id)

    # --- SLOs ------------------------------------------------------------------------------------

    def create_slo(self, project: str, key: int, spec: dict[str, Any]) -> int:
        return self._add(SloRow(project_id=self._project_id(project), key=key, spec=json.dumps(spec)))

    def list_slos(self, project: str | None = None, slo_id: int | None = None) -> list[StoredSlo]:
        return list_slos(self.metadata, project, slo_id)

    def save_slo_state(self, slo_id: int, state: dict[str, Any]) -> None:
        self._save_state(SloRow, slo_id, json.dumps(state))

    def delete_slo(self, project: str, slo_id: int) -> bool:
        return self._delete(SloRow, project, slo_id)

    # --- incidents and deliveries --------------------------------------------------------------

    def open_incident(self, project: str, title: str, severity: str, started_at: datetime, *,
                      rule_id: int | None = None, budget_id: int | None = None) -> int:
        row = IncidentRow(project_id=self._project_id(project), rule_id=rule_id, budget_id=budget_id,
                          title=title[:300], severity=severity, state="pending", started_at=started_at)
        return self._add(row)

    def update_incident(self, incident_id: int, **values: Any) -> None:
        with self.metadata.session() as db:
            row = db.get(IncidentRow, incident_id)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)
                db.commit()

    def add_incident_event(self, incident_id: int, at: datetime, kind: str, value: float | None = None,
                           note: str = "") -> None:
        self._add(IncidentEventRow(incident_id=incident_id, at=at, kind=kind, value=value, note=note))

    def resolve_incident(self, incident_id: int, at: datetime, note: str) -> None:
        """Resolved at `at`, with why on its timeline: a close no evaluation decides (its rule, budget,
        SLO or guard deleted, a new budget period). Any all-clear to its channels is the caller's."""
        self.update_incident(incident_id, state="resolved", resolved_at=at)
        self.add_incident_event(incident_id, at, "resolved", None, note)

    def resolve_budget_incidents(self, project: str, budget_id: int, at: datetime, note: str) -> None:
        """Resolve a budget's firing incidents (a budget's incident fires from the moment it opens)."""
        with self.metadata.session() as db:
            ids = list(db.scalars(select(IncidentRow.id).where(
                IncidentRow.project_id == self._project_id(project), IncidentRow.budget_id == budget_id,
                IncidentRow.state == "firing")))
        for incident_id in ids:
            self.resolve_incident(incident_id, at, note)

    def get_incident(self, project: str, incident_id: int) -> dict[str, Any] | None:
        with self.metadata.session() as db:
            row = db.get(IncidentRow, incident_id)
            if row is None or row.project_id != self._project_id(project):
                return None
            return _incident_json(db, row)

    def list_incidents(self, project: str, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, each with its timeline and deliveries."""
        with self.metadata.session() as db:
            stmt = (select(IncidentRow).where(IncidentRow.project_id == self._project_id(project))
                    .order_by(IncidentRow.id.desc()).limit(limit))
            if state:
                stmt = stmt.where(IncidentRow.state == state)
            return [_incident_json(db, row) for row in db.scalars(stmt)]

    def add_delivery(self, project: str, incident_id: int | None, channel_id: int, event: str) -> int:
        return self._add(DeliveryRow(project_id=self._project_id(project), incident_id=incident_id,
                                     channel_id=channel_id, event=event))

    def finish_delivery(self, delivery_id: int, ok: bool, http_status: int | None, attempts: int,
                        error: str) -> None:
        with self.metadata.session() as db:
            row = db.get(DeliveryRow, delivery_id)
            if row is not None:
                row.status, row.http_status, row.attempts = ("sent" if ok else "failed"), http_status, attempts
                row.error, row.finished_at = error[:2000], utcnow()
                db.commit()

    def list_deliveries(self, project: str, channel_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.metadata.session() as db:
            stmt = (select(DeliveryRow).where(DeliveryRow.project_id == self._project_id(project))
                    .order_by(DeliveryRow.id.desc()).limit(limit))
            if channel_id is not None:
                stmt = stmt.where(DeliveryRow.channel_id == channel_id)
            return [_delivery_json(row) for row in db.scalars(stmt)]

    # --- shared --------------------------------------------------------------------------------

    def _add(self, row: Any) -> int:
        with self.metadata.session() as db:
            db.add(row)
            db.commit()
            return int(row.id)

    def _list_specs(self, model: Any, project: str | None, row_id: int | None = None) -> list[StoredSpec]:
        with self.metadata.session() as db:
            stmt = select(model, Project.name).join(Project, model.project_id == Project.id).order_by(model.id)
            if project:
                stmt = stmt.where(Project.name == project)
            if row_id is not None:
                stmt = stmt.where(model.id == row_id)
            return [_stored(row, name) for row, name in db.execute(stmt)]

    def _save_state(self, model: Any, row_id: int, state: str, **values: Any) -> None:
        with self.metadata.session() as db:
            row = db.get(model, row_id)
            if row is not None:
                row.state = state
                for name, value in values.items():
                    setattr(row, name, value)
                db.commit()

    def _update(self, model: Any, project: str, row_id: int, **values: Any) -> bool:
        with self.metadata.session() as db:
            row = db.get(model, row_id)
            if row is None or row.project_id != self._project_id(project):
                return False
            for name, value in values.items():
                setattr(row, name, value)
            db.commit()
            return True

    def _delete(self, model: Any, project: str, row_id: int) -> bool:
        with self.metadata.session() as db:
            result = db.execute(delete(model).where(model.id == row_id, model.project_id == self._project_id(project)))
            db.commit()
            return result.rowcount == 1


def channel_ids(metadata: Metadata, project: str) -> set[int]:
    """The ids of a project's channels (no secrets needed: what settings that name channels check)."""
    with metadata.session() as db:
        return set(db.scalars(select(ChannelRow.id).where(
            ChannelRow.project_id == metadata.require_project(project).id)))


def list_slos(metadata: Metadata, project: str | None = None, slo_id: int | None = None) -> list[StoredSlo]:
    """SLOs (of a project, or one): no secrets needed, so a reader such as /metrics needs no AlertStore."""
    with metadata.session() as db:
        stmt = select(SloRow, Project.name).join(Project, SloRow.project_id == Project.id).order_by(SloRow.id)
        stmt = stmt.where(Project.name == project) if project else stmt
        stmt = stmt.where(SloRow.id == slo_id) if slo_id is not None else stmt
        return [StoredSlo(r.id, name, r.key, json.loads(r.spec), json.loads(r.state or "{}"), r.created_at)
                for r, name in db.execute(stmt)]


def budget_ids(metadata: Metadata) -> set[int]:
    """The ids of every project's budgets (no secrets needed: what a reader of budget statuses checks)."""
    with metadata.session() as db:
        return set(db.scalars(select(BudgetRow.id)))


def _stored(row: Any, project: str) -> StoredSpec:
    if isinstance(row, BudgetRow):
        state = {"period_start": _iso(row.period_start), "notified": json.loads(row.notified or "[]")}
        return StoredSpec(row.id, project, json.loads(row.spec), state, None, row.created_at)
    return StoredSpec(row.id, project, json.loads(row.spec), json.loads(row.state or "{}"), row.incident_id,
                      row.created_at)


def _channel_json(row: ChannelRow) -> dict[str, Any]:
    return {"id": row.id, "type": row.type, "name": row.name, "target": row.hint,
            "created_at": row.created_at.isoformat()}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _incident_json(db: Any, row: IncidentRow) -> dict[str, Any]:
    events = db.scalars(select(IncidentEventRow).where(IncidentEventRow.incident_id == row.id)
                        .order_by(IncidentEventRow.id))
    deliveries = db.scalars(select(DeliveryRow).where(DeliveryRow.incident_id == row.id).order_by(DeliveryRow.id))
    return {
        "id": row.id, "rule_id": row.rule_id, "budget_id": row.budget_id, "title": row.title,
        "severity": row.severity, "state": row.state, "value": row.value, "started_at": _iso(row.started_at),
        "firing_since": _iso(row.firing_since), "resolved_at": _iso(row.resolved_at),
        "acknowledged_at": _iso(row.acknowledged_at), "silenced_until": _iso(row.silenced_until),
        "history": [{"at": _iso(e.at), "kind": e.kind, "value": e.value, "note": e.note} for e in events],
        "deliveries": [_delivery_json(d) for d in deliveries],
    }


def _delivery_json(row: DeliveryRow) -> dict[str, Any]:
    return {"id": row.id, "incident_id": row.incident_id, "channel_id": row.channel_id, "event": row.event,
            "status": row.status, "http_status": row.http_status, "attempts": row.attempts, "error": row.error,
            "created_at": _iso(row.created_at), "finished_at": _iso(row.finished_at)}
