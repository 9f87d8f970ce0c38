"""The regression job: a project's regression set run on every model change, gated, and alerted on.

A scheduled job of its own (after drift in a full pass) rather than a hook in the drift detector:
drift stays untouched and never waits on a target, and all the job's state is in the metadata DB
(`regression_runs`, keyed by experiment name), so it survives restarts. Each pass:
1. start: each `model_change` event (detected since the set was created; editing it keeps that)
   of a requested model that has a target starts the set's current version against that target, as an experiment named
   after the change. Events of one model within `same_change` of a change already run are the same
   change (a new version usually brings a new fingerprint too): one run, not two. The experiment's
   name is the key: a 409 from the service means it is already started.
2. baseline: a target with no experiment at all on the set's current version (none that ran, runs
   or failed: a failed change run must not be followed by a "baseline" of the new version) gets a
   run of the version served today, so the first change has something to be gated against.
3. gate: each recorded run that has finished is gated once, against the last known good run (see
   `evals.regression_gate`); a failing gate, or a run that ended failed, is an incident.
`ExperimentService.start` only queues a run, so a pass never waits on a target.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from detectors.base import DetectorContext, RunResult
from evals.experiment_request import RequestError
from evals.regression_gate import SAME_TARGET, RegressionGate
from evals.regression_settings import experiment_body
from evals.service import ExperimentService
from schemas.clickhouse.quality import drift_events
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.metadata.experiments import ExperimentExists, ExperimentNotFound, ExperimentStore
from schemas.metadata.regression import BASELINE, CHANGE, NewRun, RegressionSet, RegressionStore

log = logging.getLogger(__name__)
MODEL_CHANGE = "model_change"
PREFIX = "regression"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class RegressionTiming:
    lookback: timedelta = timedelta(days=30)  # events older than this are not run, however new the set
    same_change: timedelta = timedelta(hours=1)  # drift's settle: changes this close are one change


class RegressionJob:
    name = "regression"

    def __init__(self, interval: float, experiments: ExperimentService, gate: RegressionGate,
                 timing: RegressionTiming = RegressionTiming()) -> None:
        self.interval, self.experiments, self.gate, self.timing = interval, experiments, gate, timing

    def run(self, ctx: DetectorContext) -> RunResult:
        regression = RegressionStore(ctx.metadata)
        started = gated = 0
        failures: list[str] = []
        for found in regression.list_sets():
            try:
                started += self._start_runs(ctx, regression, found)
                gated += self.gate.gate_finished(ctx, regression, found)
            except Exception as exc:  # one project's broken set must not stop the others'
                log.exception("regression set of project %s failed", found.project)
                failures.append(f"{found.project}: {type(exc).__name__}: {exc}")
        message = f"{started} regression run(s) started, {gated} gated"
        return RunResult(rows_read=started + gated, rows_written=started + gated,
                         message="; ".join([message, *failures]))

    # --- starting runs -------------------------------------------------------------------------

    def _start_runs(self, ctx: DetectorContext, regression: RegressionStore, found: RegressionSet) -> int:
        recorded = regression.runs(found.project)
        changed = self._changes(ctx, found, recorded)
        for event in changed:
            self._start(regression, found, event["model"], _change_name(event), event=event)
            recorded.append({"kind": CHANGE, "model": event["model"], "changed_at": event["changed_at"]})
        tested = {event["model"] for event in changed}
        baselines = [model for model in found.targets if model not in tested
                     and self._needs_baseline(ctx, found, model)]
        for model in baselines:
            self._start(regression, found, model, self._baseline_name(ctx, found, model))
        return len(changed) + len(baselines)

    def _changes(self, ctx: DetectorContext, found: RegressionSet, recorded: list[dict[str, Any]]) -> list[
            dict[str, Any]]:
        """New model changes of targeted models, oldest first, one per change."""
        since = max(found.created_at, ctx.now - self.timing.lookback)
        events = sorted((_parsed(e) for e in drift_events(ctx.store, found.project, since, ctx.now,
                                                          kind=MODEL_CHANGE) if e["model"] in found.targets),
                        key=lambda e: (e["changed_at"], e["column"] != "response_model", e["id"]))
        fresh: list[dict[str, Any]] = []
        for event in events:
            if not any(self._same_change(event, run) for run in [*recorded, *fresh]):
                fresh.append(event)
        return fresh

    def _same_change(self, event: dict[str, Any], run: dict[str, Any]) -> bool:
        return (run["kind"] == CHANGE and run["model"] == event["model"] and run["changed_at"] is not None
                and abs(run["changed_at"] - event["changed_at"]) <= self.timing.same_change)

    def _start(self, regression: RegressionStore, found: RegressionSet, model: str, name: str,
               event: dict[str, Any] | None = None) -> None:
        """Queue the experiment, then record it; a crash between the two is mended next pass (the
        experiment exists: recorded then)."""
        error = ""
        try:
            self.experiments.start(found.project, experiment_body(name, found.dataset, found.targets[model], model))
        except ExperimentExists:
            pass
        except (RequestError, DatasetNotFound, ExperimentNotFound) as exc:
            error = str(exc)
        regression.add_run(NewRun(
            found.project, name, CHANGE if event else BASELINE, model, start_error=error,
            **({"event_id": event["id"], "change_from": event["from"], "change_to": event["to"],
                "changed_at": event["changed_at"]} if event else {})))

    # --- baselines -----------------------------------------------------------------------------

    def _needs_baseline(self, ctx: DetectorContext, found: RegressionSet, model: str) -> bool:
        version = _current_version(ctx, found)
        if not version:
            return False
        target = found.targets[model]
        return not any(e["dataset_version"] == version and same_target(e["target"], target, model)
                       for e in ExperimentStore(ctx.metadata).list_experiments(found.project, found.dataset))

    def _baseline_name(self, ctx: DetectorContext, found: RegressionSet, model: str) -> str:
        target = {key: found.targets[model].get(key) for key in SAME_TARGET}
        digest = hashlib.sha1(repr(sorted(target.items())).encode(), usedforsecurity=False).hexdigest()[:8]
        return run_name(model, f"baseline-v{_current_version(ctx, found)}", digest)


def same_target(recorded: dict[str, Any], target: dict[str, Any], requested: str) -> bool:
    """An experiment's recorded target asks the same of the same endpoint (keys and concurrency aside)."""
    wanted = {**{"model": requested}, **target}
    return all(recorded.get(key) == wanted.get(key) for key in SAME_TARGET)


def run_name(model: str, what: str, suffix: str) -> str:
    """`regression-<model>-<what>-<suffix>` within the 128 characters a name may have, unsafe
    characters (a model's `/` or `:`) as `_`."""
    model_part, what_part = _UNSAFE.sub("_", model)[:50], _UNSAFE.sub("_", what)[:60]
    return f"{PREFIX}-{model_part}-{what_part}-{suffix}"[:128]


def _change_name(event: dict[str, Any]) -> str:
    return run_name(event["model"], event["to"], event["id"][:8])


def _parsed(event: dict[str, Any]) -> dict[str, Any]:
    features = event.get("features") or [{}]
    return {**event, "changed_at": datetime.fromisoformat(event["changed_at"]),
            "column": features[0].get("name", "")}


def _current_version(ctx: DetectorContext, found: RegressionSet) -> int:
    for dataset in DatasetStore(ctx.metadata).list_datasets(found.project):
        if dataset["name"] == found.dataset:
            return int(dataset["version"]) if dataset["items"] else 0
    return 0
