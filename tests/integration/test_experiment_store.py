"""Experiments in the metadata DB (schemas.metadata.experiments) on SQLite and PostgreSQL: a name
runs once, results replace per item, finishing is one step, a deleted dataset's runs stay readable."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from schemas.dataset_items import DatasetItem
from schemas.metadata.dataset_tables import DatasetRow
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentExists, ExperimentNotFound, ExperimentStore, NewExperiment
from schemas.metadata.store import Metadata


def golden(metadata: Metadata) -> list[int]:
    datasets = DatasetStore(metadata)
    datasets.create("default", "golden")
    return datasets.add_items("default", "golden", [DatasetItem("q1", "a1"), DatasetItem("q2", "a2")])[1]


def new(name: str = "run-1", **changes) -> NewExperiment:
    fields = {"project": "default", "name": name, "dataset": "golden", "dataset_version": 1, "runner": "service",
              "items_total": 2, "target": {"model": "gpt-4o-mini"}} | changes
    return NewExperiment(**fields)


def test_a_name_runs_once_and_an_unknown_dataset_is_refused(metadata: Metadata) -> None:
    golden(metadata)
    experiments = ExperimentStore(metadata)
    created = experiments.create(new())
    assert created["status"] == "running" and created["dataset_version"] == 1
    assert created["target"] == {"model": "gpt-4o-mini"}
    with pytest.raises(ExperimentExists, match="'run-1' already exists"):
        experiments.create(new())
    with pytest.raises(ExperimentNotFound, match="dataset 'nope'"):
        experiments.create(new("run-2", dataset="nope"))
    with pytest.raises(ExperimentNotFound, match="experiment 'run-9'"):
        experiments.get("default", "run-9")


def test_results_replace_per_item_and_count_progress(metadata: Metadata) -> None:
    first, second = golden(metadata)
    experiments = ExperimentStore(metadata)
    experiments.create(new())
    assert experiments.add_results("default", "run-1", [{"item_id": first, "error": "timeout"}]) == 1
    done = experiments.add_results("default", "run-1", [
        {"item_id": first, "output": "a1", "passed": True, "scores": {"expected_match": {"value": 1.0}},
         "cost": 0.0012, "latency_ms": 250.0, "trace_id": "ab" * 16, "span_id": "cd" * 8},
        {"item_id": second, "output": "x", "passed": False}])
    assert done == 2 and experiments.get("default", "run-1")["items_done"] == 2
    results = experiments.results("default", "run-1")
    assert [r["item_id"] for r in results] == [first, second]
    assert results[0]["error"] is None and results[0]["scores"]["expected_match"]["value"] == 1.0
    assert results[1]["cost"] is None and results[1]["passed"] is False


def test_finishing_is_once_and_interrupted_runs_fail(metadata: Metadata) -> None:
    golden(metadata)
    experiments = ExperimentStore(metadata)
    experiments.create(new())
    experiments.create(new("run-2"))
    experiments.create(new("app-run", runner="app"))
    assert experiments.finish("default", "run-1", "done")["status"] == "done"
    assert experiments.finish("default", "run-1", "failed", "late")["status"] == "done"  # not reopened
    assert experiments.fail_running("service", "the service stopped") == 1
    assert experiments.get("default", "run-2")["reason"] == "the service stopped"
    assert experiments.get("default", "app-run")["status"] == "running"
    assert [e["name"] for e in experiments.list_experiments("default")] == ["app-run", "run-2", "run-1"]


def test_a_deleted_datasets_experiments_stay_readable(metadata: Metadata) -> None:
    first, _ = golden(metadata)
    experiments = ExperimentStore(metadata)
    experiments.create(new())
    experiments.add_results("default", "run-1", [{"item_id": first, "output": "a1", "passed": True}])
    with metadata.session() as db:
        db.execute(update(DatasetRow).values(deleted=True))
        db.commit()
    assert experiments.get("default", "run-1")["dataset"] == "golden"
    assert len(experiments.results("default", "run-1")) == 1
    assert [e["name"] for e in experiments.list_experiments("default", dataset="golden")] == ["run-1"]
