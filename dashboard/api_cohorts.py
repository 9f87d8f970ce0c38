"""GET /api/v1/compare: two cohorts of live calls, chosen by any attribute, metric by metric
(issue #23, "A/B in production").

`attribute=` names a column (model, response_model, provider, service, environment, user,
session), `tag`, or any span or resource attribute key; `a=` and `b=` its two values. The filters
of every read apply to both cohorts. A value without calls in the window answers 200 with that
cohort empty and a `note`, never a 500 or a NaN. One read, then the tests here in milliseconds:
they are NumPy's (`detectors.shift.ranks`), so no worker process and no SciPy in the UI process.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from dashboard.params import FILTERS, PROJECT, WINDOW, ApiError, filter_args, project_arg, takes, time_range
from evals.cohort_compare import compare_cohorts as compare_metrics
from evals.cohort_summary import cohort_json, empty_note, read_cohort
from schemas.clickhouse.cohort_rollup import held_hours, read_cohort_calls
from schemas.clickhouse.cohorts import COUNTING, Cohorts
from schemas.clickhouse.metrics import RollupSpan
from schemas.clickhouse.store import Store
from schemas.metadata.runs import StateStore
from schemas.metadata.store import Metadata

COHORT_PARAMS = ("attribute", "a", "b")
MAX_VALUE_LENGTH = 1000


def create_cohorts_blueprint(store: Store, metadata: Metadata) -> Blueprint:
    api = Blueprint("cohorts_api", __name__, url_prefix="/api/v1")
    marks = StateStore(metadata)

    @api.get("/compare")
    @takes(PROJECT, WINDOW, FILTERS, COHORT_PARAMS)
    def compare_cohorts() -> Any:
        project, (start, end) = project_arg(metadata), time_range(timedelta(days=7))
        attribute, a, b = cohort_args()
        cohorts = Cohorts(project, start, end, attribute, a, b, filter_args())
        held = held_hours(marks, project, attribute)
        return jsonify({"project": project, **compare_report(store, cohorts, held)})

    return api


def compare_report(store: Store, cohorts: Cohorts, held: RollupSpan | None = None) -> dict[str, Any]:
    """The comparison the API answers (less the project); the A/B page calls it too. `held`: the
    hours the cohort rollup holds of the attribute (`cohort_rollup.held_hours`), if it is declared."""
    calls, read = read_cohort_calls(store, cohorts, held)
    first, second = read_cohort(cohorts.a, calls.get("a")), read_cohort(cohorts.b, calls.get("b"))
    differences = compare_metrics(first, second)  # NumPy only (detectors.shift.ranks): no worker
    answer = {"attribute": cohorts.attribute, "attribute_kind": cohorts.kind, "read": read,
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


