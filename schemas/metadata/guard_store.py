"""Metadata access for guards: their specs, the state the alerts detector keeps, and the budget
verdicts it leaves for the guard status.

Specs travel as the API's JSON dicts (validated in `detectors.alerts.guard_rules`). `snapshot`
is the one read the status endpoint's cache makes: every guard of every project and the budget
verdicts, in two queries, whatever the number of guards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from schemas.metadata.alert_tables import GuardRow
from schemas.metadata.models import Project
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

BUDGET_VERDICTS_KEY = "guards.budget_verdicts"


@dataclass(frozen=True)
class StoredGuard:
    id: int
    project: str
    spec: dict[str, Any]
    state: dict[str, Any]
    incident_id: int | None
    evaluated_at: datetime | None


@dataclass(frozen=True)
class GuardRows:
    """What the status cache holds: project names, every guard, the budgets' last verdicts."""

    projects: frozenset[str]
    guards: tuple[StoredGuard, ...]
    budget_verdicts: tuple[dict[str, Any], ...]


class GuardStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self.state = StateStore(metadata)

    def create(self, project: str, spec: dict[str, Any]) -> int:
        with self.metadata.session() as db:
            row = GuardRow(project_id=self.metadata.require_project(project).id, spec=json.dumps(spec))
            db.add(row)
            db.commit()
            return int(row.id)

    def list(self, project: str | None = None) -> list[StoredGuard]:
        with self.metadata.session() as db:
            stmt = (select(GuardRow, Project.name).join(Project, GuardRow.project_id == Project.id)
                    .order_by(GuardRow.id))
            if project:
                stmt = stmt.where(Project.name == project)
            return [_stored(row, name) for row, name in db.execute(stmt)]

    def delete(self, project: str, guard_id: int) -> bool:
        project_id = self.metadata.require_project(project).id
        with self.metadata.session() as db:
            result = db.execute(delete(GuardRow).where(GuardRow.id == guard_id, GuardRow.project_id == project_id))
            db.commit()
            return result.rowcount == 1

    def save_state(self, guard_id: int, state: dict[str, Any], incident_id: int | None,
                   evaluated_at: datetime) -> None:
        with self.metadata.session() as db:
            row = db.get(GuardRow, guard_id)
            if row is not None:
                row.state, row.incident_id, row.evaluated_at = json.dumps(state), incident_id, evaluated_at
                db.commit()

    def save_states(self, updates: list[tuple[int, dict[str, Any], int | None]], evaluated_at: datetime) -> None:
        """Every guard's reading of one tick in one transaction (a commit per guard would cost a tick
        more than its reads on SQLite); rows deleted meanwhile are skipped."""
        if not updates:
            return
        with self.metadata.session() as db:
            rows = {row.id: row for row in db.scalars(select(GuardRow).where(GuardRow.id.in_([u[0] for u in updates])))}
            for guard_id, state, incident_id in updates:
                if guard_id in rows:
                    rows[guard_id].state, rows[guard_id].incident_id = json.dumps(state), incident_id
                    rows[guard_id].evaluated_at = evaluated_at
            db.commit()

    def save_budget_verdicts(self, verdicts: list[dict[str, Any]]) -> None:
        """The alerts tick's one save of its budgets: the status cache reads the verdicts, a Prometheus
        scrape the figures beside them (`detectors.alerts.budget_spend.saved_statuses`)."""
        self.state.set(BUDGET_VERDICTS_KEY, json.dumps(verdicts))

    def snapshot(self) -> GuardRows:
        with self.metadata.session() as db:
            projects = frozenset(db.scalars(select(Project.name)))
        verdicts = json.loads(self.state.get(BUDGET_VERDICTS_KEY) or "[]")
        return GuardRows(projects, tuple(self.list()), tuple(verdicts))


def _stored(row: GuardRow, project: str) -> StoredGuard:
    return StoredGuard(row.id, project, json.loads(row.spec), json.loads(row.state or "{}"), row.incident_id,
                       row.evaluated_at)
