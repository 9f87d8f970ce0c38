"""The experiment service: start an experiment, run it in the background, read it back, score it,
finish it; and the same read-back and scoring for an experiment an app ran itself.

An experiment ends `done` or `failed` in one step (`ExperimentStore.finish`) after its last result
is written, so a reader never sees a half-written summary; any fault ends it `failed` with the
reason, never running forever. The in-service runner runs a bounded number of experiments at once
(the others wait, still `running` with no progress), each with bounded item concurrency; what it
sends to the target is exported as ordinary spans through llmpulse's own OTLP port, so their
cost and latency come from ingest's normalization and prices. When the collector requires keys,
or the experiment is not in the default project, the run gets an ingest key of its own, revoked
when it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from detectors.scoring.judge import JudgeConfig
from evals.app_spans import collect_app_results
from evals.experiment_request import APP, SERVICE, ExperimentRequest, Limits, RequestError, parse_request
from evals.results import SpanKey, SpanReading, apply_reading, await_spans, span_keys
from evals.runner import ItemOutcome, RunItem, run_items
from evals.scoring import Scorers, evaluation_rows, score_results
from evals.spans import OtlpSpanSink, RunTags
from evals.target import Target
from schemas.clickhouse.evaluations import insert_evaluations
from schemas.clickhouse.store import Store
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from schemas.metadata.models import DEFAULT_PROJECT
from schemas.metadata.secrets import SecretBox
from schemas.metadata.store import Metadata

log = logging.getLogger(__name__)

# Spans are read from the experiment's creation on, less this: an app host's clock may run behind.
CLOCK_MARGIN = timedelta(minutes=10)
STOPPED = "llmpulse stopped while the experiment ran; start it again under a new name"


class ExperimentConflict(Exception):
    """The experiment is not in a state that allows this (finishing a service run, or a done one)."""


@dataclass(frozen=True)
class ServiceSettings:
    ingest_url: str  # llmpulse's OTLP/HTTP base URL, where the runner exports its calls' spans
    mint_keys: bool  # the collector requires ingest keys
    max_running: int = 2
    default_concurrency: int = 4
    max_concurrency: int = 32
    readback_seconds: float = 30.0
    default_endpoint: str = ""
    judge: JudgeConfig | None = None
    target_timeout_s: float = 60.0


@dataclass(frozen=True)
class TargetKeys:
    """Which server environment variables may hold a target's key, and their values (read when a
    run starts, so a rotated key needs no restart); both from llmpulse.config."""

    allowed: Callable[[str], bool]
    read: Callable[[str], str | None]


@dataclass(frozen=True)
class Run:
    """What a background run needs; the key is resolved when the run starts, never stored in clear."""

    project: str
    name: str
    request: ExperimentRequest
    items: dict[int, dict[str, Any]]
    since: datetime


class ExperimentService:
    def __init__(self, store: Store, metadata: Metadata, datasets: DatasetStore, experiments: ExperimentStore,
                 box: SecretBox, settings: ServiceSettings, keys: TargetKeys) -> None:
        self.store, self.metadata, self.datasets, self.experiments = store, metadata, datasets, experiments
        self.box, self.settings, self.keys = box, settings, keys
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=settings.max_running, thread_name_prefix="llmpulse-experiment")
        self._progress = threading.Lock()
        self._finishing: set[tuple[str, str]] = set()
        self._finishing_lock = threading.Lock()

    @property
    def limits(self) -> Limits:
        return Limits(self.settings.max_concurrency, self.settings.default_endpoint,
                      key_name_allowed=self.keys.allowed, key_name_set=lambda name: self.keys.read(name) is not None)

    def start(self, project: str, body: Any) -> dict[str, Any]:
        """Check, create and queue an experiment; RequestError (400), ExperimentExists (409),
        DatasetNotFound or ExperimentNotFound (404) before anything is stored."""
        request = parse_request(body, self.limits)
        if request.runner == APP:
            raise RequestError("runner 'app' experiments are created with create_app_run")
        run = self._create(project, request)
        self._pool.submit(self._run_service, run)
        return {"name": request.name, "status": "running"}

    def create_app_run(self, project: str, body: Any) -> dict[str, Any]:
        request = parse_request({**body, "runner": APP} if isinstance(body, dict) else body, self.limits)
        run = self._create(project, request)
        return {"name": request.name, "status": "running", "dataset": request.dataset,
                "dataset_version": run.request.dataset_version, "item_ids": sorted(run.items)}

    def finish(self, project: str, name: str, body: Any = None) -> dict[str, Any]:
        """Collect an app run's results from its spans in the background; `item_ids` in the body are
        the items the app ran (their spans are awaited; the others count as missing at once)."""
        experiment = self.experiments.get(project, name)
        if experiment["runner"] != APP:
            raise ExperimentConflict(f"experiment {name!r} is run by llmpulse and finishes by itself")
        if experiment["status"] != "running":
            raise ExperimentConflict(f"experiment {name!r} is already {experiment['status']}")
        awaited = _awaited_ids(body)
        with self._finishing_lock:
            if (project, name) not in self._finishing:
                self._finishing.add((project, name))
                self._pool.submit(self._finish_app, project, experiment, awaited)
        return {"name": name, "status": "running"}

    def fail_interrupted(self) -> int:
        """At start-up: runs of the in-service runner that a stopped process left `running` can never
        finish; they end `failed` so no reader waits on them."""
        return self.experiments.fail_running(SERVICE, STOPPED)

    def close(self) -> None:
        """Stop: running experiments stop sending and end failed; queued ones never start."""
        self.stopping.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- creating -----------------------------------------------------------------------------------

    def _create(self, project: str, request: ExperimentRequest) -> Run:
        dataset = self.datasets.read(project, request.dataset, request.dataset_version)
        if not dataset["items"]:
            raise RequestError(f"dataset {request.dataset!r} version {dataset['version']} has no items to run")
        request = replace(request, dataset_version=dataset["version"])
        sealed = self.box.seal({"api_key": request.api_key}) if request.api_key is not None else None
        created = self.experiments.create(NewExperiment(
            project=project, name=request.name, dataset=request.dataset, dataset_version=dataset["version"],
            runner=request.runner, items_total=len(dataset["items"]), target=request.target(), sealed_key=sealed))
        items = {item["id"]: item for item in dataset["items"]}
        return Run(project, request.name, request, items, created["created_at"] - CLOCK_MARGIN)

    # --- the in-service runner ---------------------------------------------------------------------

    def _run_service(self, run: Run) -> None:
        self._guarded(run.project, run.name, lambda: self._execute(run))

    def _execute(self, run: Run) -> tuple[str, str]:
        if self.stopping.is_set():
            return "failed", STOPPED
        target = self._target(run)
        with self._ingest_key(run.project, run.name) as key:
            sink = OtlpSpanSink(self.settings.ingest_url, key)
            try:
                outcomes = run_items(target, _run_items(run.items), _tags(run), sink,
                                     concurrency=run.request.max_concurrency or self.settings.default_concurrency,
                                     on_outcome=lambda outcome: self._record_progress(run, outcome),
                                     cancelled=self.stopping)
            finally:
                sink.close()  # flushes, bounded: a collector that is down costs its timeout once
        delivered = sink.lost == 0
        if self.stopping.is_set() or len(outcomes) < len(run.items):
            return "failed", STOPPED
        results = [_provisional(outcome) for outcome in outcomes]
        wait = self.settings.readback_seconds if delivered else 0.0  # spans that were not sent will not come
        readings = await_spans(self.store, run.project, span_keys(results), run.since, wait, stopped=self.stopping)
        self._store_scored(run, results, readings, wait)
        return _verdict(results)

    def _target(self, run: Run) -> Target:
        r = run.request
        return Target(endpoint=r.endpoint, model=r.model, api_key=self._api_key(run), system_prompt=r.system_prompt,
                      prompt_template=r.prompt_template, temperature=r.temperature, max_tokens=r.max_tokens,
                      timeout_s=self.settings.target_timeout_s)

    def _api_key(self, run: Run) -> str | None:
        if run.request.api_key_env:
            key = self.keys.read(run.request.api_key_env)
            if key is None:
                raise RuntimeError(f"the target's key variable {run.request.api_key_env} is no longer set")
            return key
        sealed = self.experiments.sealed_key(run.project, run.name)
        return self.box.open(sealed)["api_key"] if sealed else None

    @contextmanager
    def _ingest_key(self, project: str, name: str) -> Iterator[str | None]:
        """A key of the experiment's project for its spans, when the collector needs one to put them
        there (keys required, or any project but the default one); revoked after the run."""
        if not self.settings.mint_keys and project == DEFAULT_PROJECT:
            yield None
            return
        minted = self.metadata.create_key(project, f"experiment {name}")
        try:
            yield minted.key
        finally:
            self.metadata.revoke_key(minted.info.id)

    def _record_progress(self, run: Run, outcome: ItemOutcome) -> None:
        with self._progress:
            self.experiments.add_results(run.project, run.name, [_provisional(outcome)])

    # --- app runs --------------------------------------------------------------------------------------

    def _finish_app(self, project: str, experiment: dict[str, Any], awaited: set[int] | None) -> None:
        try:
            self._guarded(project, experiment["name"], lambda: self._collect_app(project, experiment, awaited))
        finally:
            with self._finishing_lock:
                self._finishing.discard((project, experiment["name"]))

    def _collect_app(self, project: str, experiment: dict[str, Any], awaited: set[int] | None) -> tuple[str, str]:
        dataset = self.datasets.read(project, experiment["dataset"], experiment["dataset_version"])
        items = {item["id"]: item for item in dataset["items"]}
        run = Run(project, experiment["name"], ExperimentRequest(experiment["name"], experiment["dataset"], APP),
                  items, experiment["created_at"] - CLOCK_MARGIN)
        wait = self.settings.readback_seconds
        results, readings = collect_app_results(self.store, project, run.name, run.since, sorted(items),
                                                set(items) if awaited is None else awaited, wait,
                                                stopped=self.stopping)
        self._store_scored(run, results, readings, wait)
        return _verdict(results)

    # --- shared ------------------------------------------------------------------------------------------

    def _store_scored(self, run: Run, results: Sequence[dict[str, Any]], readings: dict[SpanKey, SpanReading],
                      waited: float) -> None:
        """Read-back facts, then scores; the evaluation rows, then every result in one transaction."""
        read = [apply_reading(r, readings.get((r.get("trace_id") or "", r.get("span_id") or "")), waited)
                for r in results]
        scored = score_results(read, run.items, Scorers(self.settings.judge, self.settings.default_concurrency))
        insert_evaluations(self.store, evaluation_rows(run.project, scored, readings))
        self.experiments.add_results(run.project, run.name, scored)

    def _guarded(self, project: str, name: str, work: Callable[[], tuple[str, str]]) -> None:
        """Background work never raises out: any fault ends the experiment failed with its reason."""
        try:
            status, reason = work()
        except Exception as exc:
            log.exception("experiment %s of project %s failed", name, project)
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
        try:
            self.experiments.finish(project, name, status, reason)
        except Exception:
            log.exception("could not record the end of experiment %s of project %s", name, project)


def _awaited_ids(body: Any) -> set[int] | None:
    if body is None or body == {}:
        return None
    ids = body.get("item_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise RequestError("item_ids must be a list of the dataset item ids the app ran")
    return set(ids)


def _run_items(items: dict[int, dict[str, Any]]) -> list[RunItem]:
    return [RunItem(item_id, item["input"], item.get("metadata") or {}) for item_id, item in items.items()]


def _tags(run: Run) -> RunTags:
    return RunTags(experiment=run.name, dataset=run.request.dataset, dataset_version=run.request.dataset_version or 0)


def _provisional(outcome: ItemOutcome) -> dict[str, Any]:
    """A result as the runner saw it, before read-back and scoring (progress while running)."""
    return {"item_id": outcome.item_id, "trace_id": outcome.trace_id, "span_id": outcome.span_id,
            "output": outcome.output, "error": outcome.error, "latency_ms": outcome.latency_ms,
            "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens, "passed": None}


def _verdict(results: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """`done`, unless no item got an answer: then the target (or the app) is what failed."""
    errors = [r["error"] for r in results if r.get("error")]
    if results and len(errors) == len(results):
        return "failed", f"every item failed ({len(errors)}); the first: {errors[0]}"
    return "done", ""
