"""GET /api/v1/experiments/compare: two experiments on one dataset version, item by item, and the
gate's verdict (issue #22, "Compare and gate"); `llmpulse eval gate` is a thin client of it.

Without `baseline` the candidate is gated alone on `min_pass_rate`. Statuses: 400 for a bad or
missing parameter and for experiments on different datasets or versions (the message names both
versions), 404 for an unknown experiment, 409 for one still running or failed (its state, not the
request, is what is wrong: the same request succeeds once it is done). Requests are checked here
(`evals.gate`, no SciPy); the statistics run in a worker process (`detectors.worker`), as drift's
do, so the UI process never maps SciPy. That costs ~1.5 s a comparison, which a gate can afford.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import PROJECT, ApiError, project_arg, takes
from detectors.worker import Failed, WorkerError, run_batch
from evals.gate import BadThreshold, DifferentDatasets, NotFinished, Thresholds, check_comparable, check_thresholds
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.metadata.experiments import ExperimentNotFound, ExperimentStore
from schemas.metadata.store import Metadata

COMPARE = "evals.compare:compare_experiments"  # run in the worker process
GATE_ALONE = "evals.compare:gate_alone"
NAMES = ("baseline", "candidate")
THRESHOLDS = ("min_pass_rate", "max_regressions", "max_cost_increase", "max_p95_increase")
WORKER_SECONDS = 120.0  # pure arithmetic on at most a few thousand pairs: longer is a hang


def create_compare_blueprint(metadata: Metadata) -> Blueprint:
    api = Blueprint("compare_api", __name__, url_prefix="/api/v1")
    experiments, datasets = ExperimentStore(metadata), DatasetStore(metadata)

    @api.get("/experiments/compare")
    @takes(PROJECT, NAMES, THRESHOLDS)
    def compare_experiments() -> Any:
        project, (baseline, candidate) = project_arg(metadata), experiment_names()
        thresholds = _refused(lambda: check_thresholds(read_thresholds(), has_baseline=baseline is not None))
        found = [_found(lambda name=name: experiments.get(project, name)) for name in (baseline, candidate) if name]
        _refused(lambda: check_comparable(*found))
        results = [_found(lambda name=name: experiments.results(project, name)) for name in (baseline, candidate)
                   if name]
        if baseline is None:
            comparison = in_worker(GATE_ALONE, (found[0], results[0], thresholds))
        else:
            comparison = in_worker(COMPARE, (found[0], found[1], results[0], results[1], thresholds))
        add_inputs(comparison["items"], item_texts(datasets, project, found[-1]))
        return jsonify(comparison)

    return api


def experiment_names() -> tuple[str | None, str]:
    candidate = request.args.get("candidate")
    if not candidate:
        raise ApiError(400, "candidate= is required: the experiment to gate (and baseline= the one to compare "
                            "it with)")
    return request.args.get("baseline") or None, candidate


def read_thresholds() -> Thresholds:
    """The thresholds given; `evals.gate.check_thresholds` then checks their ranges."""
    return Thresholds(min_pass_rate=number_arg("min_pass_rate"), max_regressions=count_arg("max_regressions"),
                      max_cost_increase=number_arg("max_cost_increase"),
                      max_p95_increase=number_arg("max_p95_increase"))


def number_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ApiError(400, f"{name}={raw!r} is not a finite number")
    return value


def count_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r} is not a whole number") from None


def in_worker(target: str, args: tuple[Any, ...]) -> dict[str, Any]:
    try:
        (answer,) = run_batch(target, [(args, {})], timeout=WORKER_SECONDS)
    except WorkerError as exc:
        raise ApiError(503, f"the comparison could not run: {exc}") from None
    if isinstance(answer, Failed):
        raise ApiError(500, f"the comparison failed: {answer.error}")
    return answer


def item_texts(datasets: DatasetStore, project: str, experiment: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Each item's input and expected output from the version the experiment ran on; none when the
    dataset was deleted since (the comparison stays readable, without the inputs)."""
    try:
        version = datasets.read(project, experiment["dataset"], experiment["dataset_version"])
    except DatasetNotFound:
        return {}
    return {item["id"]: {"input": item["input"], "expected": item["expected"]} for item in version["items"]}


def add_inputs(items: list[dict[str, Any]], texts: dict[int, dict[str, Any]]) -> None:
    for item in items:
        item.update(texts.get(item["item_id"], {"input": None, "expected": None}))


def _refused(action: Any) -> Any:
    try:
        return action()
    except (BadThreshold, DifferentDatasets) as exc:
        raise ApiError(400, str(exc)) from None
    except NotFinished as exc:
        raise ApiError(409, str(exc)) from None


def _found(action: Any) -> Any:
    try:
        return action()
    except ExperimentNotFound as exc:
        raise ApiError(404, str(exc)) from None
