"""GET /api/v1/compare: two cohorts of live calls, chosen by any attribute, metric by metric
(issue #23, "A/B in production").

`attribute=` names a column (model, response_model, provider, service, environment, user,
session), `tag`, or any span or resource attribute key; `a=` and `b=` its two values. The filters
of every read apply to both cohorts. A value without calls in the window answers 200 with that
cohort empty and a `note`, never a 500 or a NaN. The reads run here; the tests run in a worker
process started as the request arrives, so SciPy's import (~1.2 s) overlaps the reads (~1 s over
a week of 10M spans) and the UI process never maps SciPy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import FILTERS, PROJECT, WINDOW, ApiError, filter_args, project_arg, takes, time_range
from detectors.worker import Failed, Worker, WorkerError
from evals.cohort_summary import Cohort, cohort_json, empty_note, read_cohort
from schemas.clickhouse.cohorts import COUNTING, Cohorts, cohort_calls, cohort_scores
from schemas.clickhouse.store import Store
from schemas.metadata.store import Metadata

COMPARE_COHORTS = "evals.cohort_compare:compare_cohorts"  # run in the worker process
COHORT_PARAMS = ("attribute", "a", "b")
WORKER_SECONDS = 60.0  # rank tests on at most 20,000 values a cohort and metric: longer is a hang
MAX_VALUE_LENGTH = 1000


def create_cohorts_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("cohorts_api", __name__, url_prefix="/api/v1")

    @api.get("/compare")
    @takes(PROJECT, WINDOW, FILTERS, COHORT_PARAMS)
    def compare_cohorts() -> Any:
        project, (start, end) = project_arg(metadata), time_range(timedelta(days=7))
        attribute, a, b = cohort_args()
        cohorts = Cohorts(project, start, end, attribute, a, b, filter_args())
        return jsonify({"project": project, **compare_report(store, cohorts)})

    return api


def compare_report(store: Store, cohorts: Cohorts) -> dict[str, Any]:
    """The comparison the API answers (less the project); the A/B page calls it too."""
    with Worker(COMPARE_COHORTS, WORKER_SECONDS) as worker:
        first, second = read_cohorts(store, cohorts)
        differences = in_worker(worker, first, second)
    answer = {"attribute": cohorts.attribute, "attribute_kind": cohorts.kind,
              "window": {"from": cohorts.start.isoformat(), "to": cohorts.end.isoformat()},
              "filters": cohorts.filters, "a": cohort_json(first), "b": cohort_json(second),
              "differences": differences, "counting": COUNTING}
    note = empty_note(first, second, cohorts.attribute)
    return {**answer, "note": note} if note else answer


def cohort_args() -> tuple[str, str, str]:
    """attribute, a and b: each required and not blank, a and b different."""
    values = []
    for name in COHORT_PARAMS:
        value = request.args.get(name, "")
        if not value.strip():
            raise ApiError(400, f"{name}= is required: compare calls whose attribute (a column such as model, "
                                "'tag', or any span or resource attribute key) holds value a with those holding b")
        if len(value) > MAX_VALUE_LENGTH:
            raise ApiError(400, f"{name}= is longer than {MAX_VALUE_LENGTH} characters")
        values.append(value)
    attribute, a, b = values
    if a == b:
        raise ApiError(400, f"a= and b= are both {a!r}: give two different values of {attribute} to compare")
    return attribute, a, b


def read_cohorts(store: Store, cohorts: Cohorts) -> tuple[Cohort, Cohort]:
    calls, scores = cohort_calls(store, cohorts), cohort_scores(store, cohorts)

    def cohort(side: str, value: str) -> Cohort:
        return read_cohort(value, calls.get(side), scores.get(side))
    return cohort("a", cohorts.a), cohort("b", cohorts.b)


def in_worker(worker: Worker, first: Cohort, second: Cohort) -> list[dict[str, Any]]:
    try:
        (answer,) = worker.run([((first, second), {})])
    except WorkerError as exc:
        raise ApiError(503, f"the comparison could not run: {exc}") from None
    if isinstance(answer, Failed):
        raise ApiError(500, f"the comparison failed: {answer.error}")
    return answer
