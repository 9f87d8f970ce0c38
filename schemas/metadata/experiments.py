"""Metadata access for experiments: create one on a dataset version, record results, finish it.

A name is taken once per project: a second run under the same name is refused (ExperimentExists),
never merged into the first. Results are written as items complete, so progress is visible while
an experiment runs; its status turns `done` or `failed` in one step at the end, and readers
compute a summary only from a finished experiment, so a summary is never half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from schemas.metadata.dataset_tables import DatasetRow
from schemas.metadata.datasets import live_dataset
from schemas.metadata.experiment_tables import ExperimentResultRow, ExperimentRow
from schemas.metadata.models import utcnow
from schemas.metadata.store import Metadata


class ExperimentExists(Exception):
    """An experiment of that name is already in the project."""


class ExperimentNotFound(LookupError):
    """No such experiment (or no such dataset to run one on); the message says which."""


@dataclass(frozen=True)
class NewExperiment:
    project: str
    name: str
    dataset: str
    dataset_version: int
    runner: str  # "service" or "app" (schemas.metadata.experiment_tables.RUNNERS)
    items_total: int
    target: dict[str, Any] = field(default_factory=dict)
    sealed_key: str | None = None


class ExperimentStore:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    def create(self, new: NewExperiment) -> dict[str, Any]:
        with self.metadata.session() as db:
            dataset = self._dataset(db, new.project, new.dataset)
            row = ExperimentRow(project_id=dataset.project_id, name=new.name, dataset_id=dataset.id,
                                dataset_name=dataset.name, dataset_version=new.dataset_version, runner=new.runner,
                                target=json.dumps(new.target), sealed_key=new.sealed_key,
                                items_total=new.items_total)
            db.add(row)
            try:
                db.commit()
            except IntegrityError:  # the unique (project, name): also a concurrent create
                raise ExperimentExists(f"experiment {new.name!r} already exists in project {new.project!r}; "
                                       "give the new run another name") from None
            return experiment_json(row)

    def get(self, project: str, name: str) -> dict[str, Any]:
        with self.metadata.session() as db:
            return experiment_json(self._find(db, project, name))

    def sealed_key(self, project: str, name: str) -> str | None:
        with self.metadata.session() as db:
            return self._find(db, project, name).sealed_key

    def list_experiments(self, project: str, dataset: str | None = None) -> list[dict[str, Any]]:
        """Newest first; `dataset` keeps those run on that dataset (by name, deleted or not)."""
        query = select(ExperimentRow).where(ExperimentRow.project_id == self._project_id(project))
        if dataset is not None:
            query = query.where(ExperimentRow.dataset_name == dataset)
        with self.metadata.session() as db:
            rows = db.scalars(query.order_by(ExperimentRow.created_at.desc(), ExperimentRow.id.desc()))
            return [experiment_json(row) for row in rows]

    def add_results(self, project: str, name: str, results: list[dict[str, Any]]) -> int:
        """Store results (see `result_row`), replacing any earlier one of the same item; returns the
        number of items now done. One transaction: the results and the progress count together."""
        with self.metadata.session() as db:
            row = self._find(db, project, name)
            items = [int(result["item_id"]) for result in results]
            for old in db.scalars(select(ExperimentResultRow).where(
                    ExperimentResultRow.experiment_id == row.id, ExperimentResultRow.item_id.in_(items))):
                db.delete(old)
            db.flush()
            db.add_all(result_row(row.id, result) for result in results)
            db.flush()
            done = db.query(ExperimentResultRow).filter(ExperimentResultRow.experiment_id == row.id).count()
            row.items_done = done
            db.commit()
            return done

    def finish(self, project: str, name: str, status: str, reason: str = "") -> dict[str, Any]:
        """End a running experiment as `done` or `failed`; an already finished one is left as it is."""
        with self.metadata.session() as db:
            row = self._find(db, project, name)
            db.execute(update(ExperimentRow).where(ExperimentRow.id == row.id, ExperimentRow.status == "running")
                       .values(status=status, reason=reason[:4000], finished_at=utcnow()))
            db.commit()
            db.refresh(row)
            return experiment_json(row)

    def fail_running(self, runner: str, reason: str) -> int:
        """Mark every experiment of `runner` still running as failed: at start-up, those a stopped
        process was running can no longer finish; returns how many."""
        with self.metadata.session() as db:
            count = db.execute(update(ExperimentRow).where(ExperimentRow.runner == runner,
                                                           ExperimentRow.status == "running")
                               .values(status="failed", reason=reason, finished_at=utcnow())).rowcount
            db.commit()
            return int(count or 0)

    def results(self, project: str, name: str) -> list[dict[str, Any]]:
        """Per-item results in item order."""
        with self.metadata.session() as db:
            row = self._find(db, project, name)
            rows = db.scalars(select(ExperimentResultRow).where(ExperimentResultRow.experiment_id == row.id)
                              .order_by(ExperimentResultRow.item_id))
            return [result_json(result) for result in rows]

    def _project_id(self, project: str) -> int:
        return self.metadata.require_project(project).id

    def _find(self, db: Session, project: str, name: str) -> ExperimentRow:
        row = db.scalar(select(ExperimentRow).where(ExperimentRow.project_id == self._project_id(project),
                                                    ExperimentRow.name == name))
        if row is None:
            raise ExperimentNotFound(f"experiment {name!r} not found in project {project!r}")
        return row

    def _dataset(self, db: Session, project: str, name: str) -> DatasetRow:
        row = live_dataset(db, self._project_id(project), name)
        if row is None:
            raise ExperimentNotFound(f"dataset {name!r} not found in project {project!r}")
        return row


def result_row(experiment_id: int, result: dict[str, Any]) -> ExperimentResultRow:
    """`result`: item_id, and any of trace_id, span_id, output, error, passed, scores (a dict),
    latency_ms, cost, input_tokens, output_tokens."""
    return ExperimentResultRow(
        experiment_id=experiment_id, item_id=int(result["item_id"]), trace_id=result.get("trace_id") or "",
        span_id=result.get("span_id") or "", output=result.get("output") or "", error=result.get("error") or "",
        passed=result.get("passed"), scores=json.dumps(result.get("scores") or {}),
        latency_ms=result.get("latency_ms"), cost=result.get("cost"), input_tokens=result.get("input_tokens"),
        output_tokens=result.get("output_tokens"),
    )


def experiment_json(row: ExperimentRow) -> dict[str, Any]:
    finished: datetime | None = row.finished_at
    return {"name": row.name, "dataset": row.dataset_name, "dataset_id": row.dataset_id,
            "dataset_version": row.dataset_version,
            "runner": row.runner, "target": json.loads(row.target), "status": row.status, "reason": row.reason,
            "items_total": row.items_total, "items_done": row.items_done, "created_at": row.created_at,
            "finished_at": finished}


def result_json(row: ExperimentResultRow) -> dict[str, Any]:
    return {"item_id": row.item_id, "trace_id": row.trace_id or None, "span_id": row.span_id or None,
            "output": row.output, "error": row.error or None, "passed": row.passed,
            "scores": json.loads(row.scores), "latency_ms": row.latency_ms, "cost": row.cost,
            "input_tokens": row.input_tokens, "output_tokens": row.output_tokens}
