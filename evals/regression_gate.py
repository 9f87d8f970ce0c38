"""The gate of a regression run, and the incident when it fails.

Gated against the last known good run: the newest earlier experiment that finished `done` on the
same dataset version with the same target (endpoint, model, prompts, parameters), whoever started
it (a regression run, its baseline, or a person), except a regression run whose own gate failed —
a second bad version must not pass for matching the first. The rules are the comparison API's
(`evals.compare`, run in a worker process as drift's statistics are): a significantly worse pass
rate fails (McNemar), and so does a pass rate under the set's `min_pass_rate` when it has one.
With no earlier run the run is the baseline: only `min_pass_rate` can fail it. A run that ended
failed (a target that is down) or could not start is an incident with its reason.

An incident here is like a budget's: opened firing, announced once on the set's channels (every
channel of the project unless the set names some), with the experiment's link, the change and
the gate's reasons.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from detectors.alerts.incidents import FIRING
from detectors.base import DetectorContext
from detectors.notify.dispatcher import Dispatcher
from detectors.notify.message import Notification, clip
from detectors.worker import Failed, WorkerError, run_batch
from evals.gate import Thresholds
from schemas.metadata.alert_store import AlertStore
from schemas.metadata.experiments import ExperimentNotFound, ExperimentStore
from schemas.metadata.regression import RegressionSet, RegressionStore

log = logging.getLogger(__name__)
COMPARE, GATE_ALONE = "evals.compare:compare_experiments", "evals.compare:gate_alone"
WORKER_SECONDS = 120.0
SEVERITY = "error"
SAME_TARGET = ("endpoint", "model", "system_prompt", "prompt_template", "temperature", "max_tokens")


class RegressionGate:
    def __init__(self, alerts: AlertStore, dispatcher: Dispatcher, public_url: str) -> None:
        self.alerts, self.dispatcher, self.public_url = alerts, dispatcher, public_url.rstrip("/")

    def gate_finished(self, ctx: DetectorContext, regression: RegressionStore, found: RegressionSet) -> int:
        """Gate every recorded run that has finished and is not gated yet; returns how many."""
        experiments, gated = ExperimentStore(ctx.metadata), 0
        for run in reversed(regression.runs(found.project, ungated=True)):  # oldest first: it may be a baseline
            verdict = self._verdict(ctx, experiments, regression, found, run)
            if verdict is None:
                continue
            passed, baseline, reasons, value, threshold = verdict
            incident = None if passed else self._raise(ctx.now, found, run, baseline, reasons, value, threshold)
            regression.record_gate(found.project, run["experiment"], passed, baseline, reasons, incident)
            gated += 1
        return gated

    # --- the verdict ---------------------------------------------------------------------------

    def _verdict(self, ctx: DetectorContext, experiments: ExperimentStore, regression: RegressionStore,
                 found: RegressionSet, run: dict[str, Any]) -> tuple[bool, str, list[str], Any, Any] | None:
        """(passed, baseline, reasons, pass rate, limit), or None while the run is still running."""
        if run["start_error"]:
            return False, "", [f"the run could not start: {run['start_error']}"], None, None
        try:
            candidate = experiments.get(found.project, run["experiment"])
        except ExperimentNotFound:
            return False, "", ["the experiment is gone (its project or dataset was deleted)"], None, None
        if candidate["status"] == "running":
            return None
        if candidate["status"] != "done":
            return False, "", [f"the run ended {candidate['status']}: {candidate['reason']}"], None, None
        baseline = last_good(experiments.list_experiments(found.project, candidate["dataset"]), candidate,
                             regression.failed_gates(found.project))
        thresholds = Thresholds(min_pass_rate=found.min_pass_rate)
        if baseline is None and found.min_pass_rate is None:
            return True, "", [], None, None  # the first run is the baseline
        comparison = self._compare(experiments, found.project, baseline, candidate, thresholds)
        if comparison is None:
            return None  # the worker process failed: gated on a later pass
        if isinstance(comparison, Failed):  # the comparison itself raised: it would again
            return False, baseline["name"] if baseline else "", [f"the gate could not be computed: "
                                                                  f"{comparison.error}"], None, None
        rates = comparison["pass_rate"]
        limit = rates["baseline"] if baseline else found.min_pass_rate
        return (comparison["passed"], baseline["name"] if baseline else "", comparison["reasons"],
                rates["candidate"], limit)

    def _compare(self, experiments: ExperimentStore, project: str, baseline: dict[str, Any] | None,
                 candidate: dict[str, Any], thresholds: Thresholds) -> dict[str, Any] | Failed | None:
        results = experiments.results(project, candidate["name"])
        if baseline is None:
            target, args = GATE_ALONE, (candidate, results, thresholds)
        else:
            target = COMPARE
            args = (baseline, candidate, experiments.results(project, baseline["name"]), results, thresholds)
        try:
            (answer,) = run_batch(target, [(args, {})], timeout=WORKER_SECONDS)
        except WorkerError as exc:
            log.error("gating %s could not run: %s", candidate["name"], exc)
            return None
        if isinstance(answer, Failed):
            log.error("gating %s failed: %s", candidate["name"], answer.error)
        return answer

    # --- the incident --------------------------------------------------------------------------

    def _raise(self, now: datetime, found: RegressionSet, run: dict[str, Any], baseline: str, reasons: list[str],
               value: float | None, threshold: float | None) -> int:
        title = clip(f"Regression gate failed: {run['model']} ({_change(run)})", 300)
        incident_id = self.alerts.open_incident(found.project, title, SEVERITY, now)
        self.alerts.update_incident(incident_id, state=FIRING, value=value, firing_since=now)
        self.alerts.add_incident_event(incident_id, now, FIRING, value, clip("; ".join(reasons), 2000))
        channels = sorted(self.alerts.channel_ids(found.project) if found.channels is None else found.channels)
        if channels:
            self.dispatcher.notify(found.project, incident_id, channels,
                                   self._notification(now, found, run, baseline, reasons, value, threshold,
                                                      incident_id))
        return incident_id

    def _notification(self, now: datetime, found: RegressionSet, run: dict[str, Any], baseline: str,
                      reasons: list[str], value: float | None, threshold: float | None,
                      incident_id: int) -> Notification:
        link = self.experiment_url(found.project, run["experiment"])
        against = f" against {baseline}" if baseline else ""
        summary = (f"[{found.project}] Regression gate failed for {run['model']} ({_change(run)}): experiment "
                   f"{run['experiment']}{against}: {'; '.join(reasons)}. {link}")
        scope = {"model": run["model"], "experiment": run["experiment"], "dataset": found.dataset,
                 **({"baseline": baseline} if baseline else {})}
        return Notification(
            event="firing", incident_id=str(incident_id), project=found.project,
            rule_name=f"Regression gate: {run['model']}", metric="pass_rate", severity=SEVERITY, value=value,
            threshold=threshold, comparator="<", window=f"{found.dataset} regression set", scope=scope,
            started_at=now, dashboard_url=link, summary=clip(summary, 3000))

    def experiment_url(self, project: str, name: str) -> str:
        return f"{self.public_url}/evaluations/experiments/{quote(name, safe='')}?{urlencode({'project': project})}"


def last_good(experiments: list[dict[str, Any]], candidate: dict[str, Any], failed: set[str]) -> dict[str, Any] | None:
    """The newest earlier `done` experiment on the candidate's dataset version and target, not a run
    whose gate failed (`experiments` newest first, as `ExperimentStore.list_experiments`)."""
    for experiment in experiments:
        if (experiment["name"] != candidate["name"] and experiment["status"] == "done"
                and experiment["name"] not in failed and experiment["created_at"] <= candidate["created_at"]
                and experiment["dataset_id"] == candidate["dataset_id"]
                and experiment["dataset_version"] == candidate["dataset_version"]
                and all(experiment["target"].get(k) == candidate["target"].get(k) for k in SAME_TARGET)):
            return experiment
    return None


def _change(run: dict[str, Any]) -> str:
    if run["kind"] == "baseline":
        return "baseline run of the version served today"
    return f"{run['from']} -> {run['to']}"
