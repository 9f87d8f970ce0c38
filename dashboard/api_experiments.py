"""API of experiments (issue #22): start one on a dataset version (the in-service runner, or an
app that runs its own pipeline and exports its spans), list them, read one with its summary and
per-item results, finish an app run.

Checking a request and running it is `evals` (`evals.service`); reading is the metadata store.
This module maps their errors to 400, 404, 409 and 503. Writes need the admin role (dashboard.auth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.csv_export import FORMAT, csv_response, wants_csv
from dashboard.params import PROJECT, ApiError, project_arg, takes
from evals.experiment_request import RequestError
from evals.experiment_view import RESULT_COLUMNS, experiment_listing, experiment_view
from evals.service import ExperimentConflict, ExperimentService
from schemas.metadata.datasets import DatasetNotFound, DatasetStore
from schemas.metadata.experiments import ExperimentExists, ExperimentNotFound, ExperimentStore
from schemas.metadata.store import Metadata


def create_experiments_blueprint(metadata: Metadata, service: ExperimentService | None) -> Blueprint:
    api = Blueprint("experiments_api", __name__, url_prefix="/api/v1")
    experiments, datasets = ExperimentStore(metadata), DatasetStore(metadata)

    @api.post("/experiments")
    @takes(PROJECT)
    def start_experiment() -> Any:
        project, body = project_arg(metadata), request.get_json(silent=True)
        if isinstance(body, dict) and body.get("runner") == "app":
            return jsonify(mapped(lambda: running_service(service).create_app_run(project, body))), 201
        return jsonify(mapped(lambda: running_service(service).start(project, body))), 202

    @api.get("/experiments")
    @takes(PROJECT, ("dataset",))
    def list_experiments() -> Any:
        found = experiments.list_experiments(project_arg(metadata), request.args.get("dataset") or None)
        return jsonify({"experiments": [experiment_listing(e) for e in found]})

    @api.get("/experiments/<name>")
    @takes(PROJECT, FORMAT)
    def get_experiment(name: str) -> Any:
        csv_wanted = wants_csv()
        project = project_arg(metadata)
        experiment = mapped(lambda: experiments.get(project, name))
        results = experiments.results(project, name)
        view = experiment_view(experiment, results, _items(datasets, project, experiment))
        if csv_wanted:  # the per-item results; the summary is the JSON's
            return csv_response(f"llmpulse-experiment-{project}-{name}", RESULT_COLUMNS, view["results"])
        return jsonify(view)

    @api.post("/experiments/<name>/finish")
    @takes(PROJECT)
    def finish_experiment(name: str) -> Any:
        project, body = project_arg(metadata), request.get_json(silent=True)
        return jsonify(mapped(lambda: running_service(service).finish(project, name, body))), 202

    return api


def _items(datasets: DatasetStore, project: str, experiment: dict[str, Any]) -> dict[int, dict[str, Any]] | None:
    """The items of the version the experiment ran on; None once the dataset is deleted (the
    experiment stays readable, without the items' texts)."""
    try:
        dataset = datasets.read(project, experiment["dataset"], experiment["dataset_version"])
    except DatasetNotFound:
        return None
    return {item["id"]: item for item in dataset["items"]}


def running_service(service: ExperimentService | None) -> ExperimentService:
    """The service, or a 503 where this process runs no experiments (also the UI's run form)."""
    if service is None:
        raise ApiError(503, "this process does not run experiments (start llmpulse serve or llmpulse dashboard)")
    return service


def mapped(action: Callable[[], Any]) -> Any:
    """The service's and stores' errors as the API answers them; the UI's run form shows the same words."""
    try:
        return action()
    except RequestError as exc:
        raise ApiError(400, str(exc)) from None
    except (DatasetNotFound, ExperimentNotFound) as exc:
        raise ApiError(404, str(exc)) from None
    except (ExperimentExists, ExperimentConflict) as exc:
        raise ApiError(409, str(exc)) from None
