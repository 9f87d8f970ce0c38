"""A project's regression set (a dataset, a target per requested model) and the runs it started.

The settings are one row per project; a run is one row per experiment the regression job started
(for a model change, or a baseline), keyed by the experiment's name, so a restarted job finds what
it already started and what it already gated. Validating settings is `evals.regression_settings`'
job, storing them is this module's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from schemas.metadata.models import Project, utcnow
from schemas.metadata.regression_tables import BASELINE, CHANGE, RegressionRunRow, RegressionSetRow
from schemas.metadata.store import Metadata

__all__ = ["BASELINE", "CHANGE", "NewRun", "RegressionSet", "RegressionStore"]

@dataclass(frozen=True)
class RegressionSet:
    project: str
    dataset: str
    targets: dict[str, dict[str, Any]]
    min_pass_rate: float | None
    channels: list[int] | None
    created_at: datetime  # model changes detected before the set existed are not run

    def to_json(self) -> dict[str, Any]:
        return {"regression_dataset": self.dataset, "regression_targets": self.targets,
                "regression_min_pass_rate": self.min_pass_rate, "regression_channels": self.channels}


@dataclass(frozen=True)
class NewRun:
    project: str
    experiment: str
    kind: str
    request_model: str
    event_id: str = ""
    change_from: str = ""
    change_to: str = ""
    changed_at: datetime | None = None
    start_error: str = ""


class RegressionStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    # --- settings ------------------------------------------------------------------------------

    def get_set(self, project: str) -> RegressionSet | None:
        with self.metadata.session() as db:
            found = db.execute(select(RegressionSetRow, Project.name).join(
                Project, RegressionSetRow.project_id == Project.id).where(Project.name == project)).first()
            return _set(*found) if found else None

    def list_sets(self) -> list[RegressionSet]:
        with self.metadata.session() as db:
            rows = db.execute(select(RegressionSetRow, Project.name).join(
                Project, RegressionSetRow.project_id == Project.id).order_by(Project.name))
            return [_set(row, name) for row, name in rows]

    def save_set(self, project: str, dataset: str | None, targets: dict[str, dict[str, Any]],
                 min_pass_rate: float | None, channels: list[int] | None) -> RegressionSet | None:
        """Replace the project's regression set; no dataset removes it."""
        project_id = self.metadata.require_project(project).id
        with self.metadata.session() as db:
            row = db.get(RegressionSetRow, project_id)
            if dataset is None:
                if row is not None:
                    db.delete(row)
                    db.commit()
                return None
            row = row or RegressionSetRow(project_id=project_id)
            row.dataset, row.targets, row.min_pass_rate = dataset, json.dumps(targets), min_pass_rate
            row.channels, row.updated_at = (None if channels is None else json.dumps(channels)), utcnow()
            db.add(row)
            db.commit()
        return self.get_set(project)

    # --- runs ----------------------------------------------------------------------------------

    def add_run(self, new: NewRun) -> bool:
        """Record a run; False when one of that experiment name is already recorded."""
        row = RegressionRunRow(project_id=self.metadata.require_project(new.project).id, experiment=new.experiment,
                               kind=new.kind, request_model=new.request_model, event_id=new.event_id,
                               change_from=new.change_from[:1000], change_to=new.change_to[:1000],
                               changed_at=new.changed_at, start_error=new.start_error[:4000])
        with self.metadata.session() as db:
            db.add(row)
            try:
                db.commit()
            except IntegrityError:
                return False
            return True

    def runs(self, project: str, model: str | None = None, ungated: bool = False) -> list[dict[str, Any]]:
        """Newest first."""
        query = select(RegressionRunRow).where(RegressionRunRow.project_id == self.metadata.require_project(
            project).id)
        if model is not None:
            query = query.where(RegressionRunRow.request_model == model)
        if ungated:
            query = query.where(RegressionRunRow.gated_at.is_(None))
        with self.metadata.session() as db:
            return [_run(row) for row in db.scalars(query.order_by(RegressionRunRow.id.desc()))]

    def failed_gates(self, project: str) -> set[str]:
        """Experiments whose gate failed: never a baseline for a later run."""
        with self.metadata.session() as db:
            return set(db.scalars(select(RegressionRunRow.experiment).where(
                RegressionRunRow.project_id == self.metadata.require_project(project).id,
                RegressionRunRow.passed.is_(False))))

    def record_gate(self, project: str, experiment: str, passed: bool, baseline: str, reasons: list[str],
                    incident_id: int | None) -> None:
        with self.metadata.session() as db:
            row = db.scalar(select(RegressionRunRow).where(
                RegressionRunRow.project_id == self.metadata.require_project(project).id,
                RegressionRunRow.experiment == experiment))
            if row is not None:
                row.gated_at, row.passed, row.baseline = utcnow(), passed, baseline
                row.reasons, row.incident_id = json.dumps(reasons), incident_id
                db.commit()


def _set(row: RegressionSetRow, project: str) -> RegressionSet:
    return RegressionSet(project, row.dataset, json.loads(row.targets or "{}"), row.min_pass_rate,
                         None if row.channels is None else json.loads(row.channels), row.created_at)


def _run(row: RegressionRunRow) -> dict[str, Any]:
    return {"experiment": row.experiment, "kind": row.kind, "model": row.request_model, "event_id": row.event_id,
            "from": row.change_from, "to": row.change_to, "changed_at": row.changed_at,
            "start_error": row.start_error, "created_at": row.created_at, "gated_at": row.gated_at,
            "passed": row.passed, "baseline": row.baseline, "reasons": json.loads(row.reasons or "[]"),
            "incident_id": row.incident_id}
