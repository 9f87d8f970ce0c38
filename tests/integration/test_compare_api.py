"""GET /api/v1/experiments/compare over real HTTP (metadata on SQLite, statistics in the worker
process): the issue's contract, the gate's thresholds, and each refusal with its status."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask

from dashboard.api_compare import create_compare_blueprint
from schemas.metadata.datasets import DatasetStore
from tests.conftest import Running, api
from tests.experiment_data import MAIN, PR, golden_set, record_experiment


@pytest.fixture
def recorded(running: Running) -> Running:
    """main-latest and pr-7 on golden v1 (pr-7 regresses 8 items, improves 1, costs 20% more),
    v2-run on version 2, still-running, and failed-run."""
    metadata = running.service.metadata
    items = golden_set(metadata)
    record_experiment(metadata, "main-latest", items, MAIN)
    record_experiment(metadata, "pr-7", items, PR, cost=0.012, latency=110.0)
    record_experiment(metadata, "still-running", items, PR, status="running")
    record_experiment(metadata, "failed-run", items, PR, status="failed")
    from schemas.dataset_items import DatasetItem
    from schemas.metadata.datasets import DatasetStore

    DatasetStore(metadata).add_items("default", "golden", [DatasetItem("one more")])
    record_experiment(metadata, "v2-run", [*items, items[-1] + 1], [*PR, True], version=2)
    return running


def compare(running: Running, **params: object):
    return api(running, "GET", "/experiments/compare", **params)


def test_the_contract_of_a_regressing_candidate(recorded: Running) -> None:
    answer = compare(recorded, baseline="main-latest", candidate="pr-7")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    first = body["items"][0]["item_id"]
    assert body["regressed"] == list(range(first, first + 8)) and body["improved"] == [first + 8]
    assert body["unchanged"] == 11 and body["paired"] == 20
    assert body["pass_rate"] == {"baseline": 0.65, "candidate": 0.3, "change": pytest.approx(-0.35),
                                 "p_value": pytest.approx(0.0390625)}
    assert body["cost_total"]["baseline"] == pytest.approx(0.2)
    assert body["cost_total"]["candidate"] == pytest.approx(0.24)
    assert body["cost_total"]["change_pct"] == pytest.approx(20)
    assert body["latency_p95_ms"]["baseline"] == pytest.approx(118.05)
    assert body["passed"] is False and body["reasons"][0].startswith("the pass rate is significantly worse")
    assert body["scores"]["expected_match"]["test"] == "wilcoxon"
    assert body["thresholds"] == {"min_pass_rate": None, "max_regressions": None, "max_cost_increase": None,
                                  "max_p95_increase": None}
    regressed = body["items"][0]
    assert regressed["verdict"] == "regressed" and regressed["input"] == "question 0"
    assert regressed["expected"] == "answer 0"
    assert regressed["baseline"]["output"].startswith("main-latest says right")
    assert regressed["candidate"]["output"].startswith("pr-7 says wrong") and regressed["candidate"]["passed"] is False
    assert [item["verdict"] for item in body["items"][8:10]] == ["improved", "unchanged"]


def test_thresholds_in_the_query_decide_the_verdict(recorded: Running) -> None:
    swapped = compare(recorded, baseline="pr-7", candidate="main-latest", min_pass_rate="0.6", max_regressions="1",
                      max_cost_increase="-10", max_p95_increase="0").json()
    assert swapped["passed"] is True, swapped["reasons"]
    assert swapped["thresholds"] == {"min_pass_rate": 0.6, "max_regressions": 1, "max_cost_increase": -10.0,
                                     "max_p95_increase": 0.0}
    strict = compare(recorded, baseline="pr-7", candidate="main-latest", min_pass_rate="0.7",
                     max_cost_increase="-20").json()
    assert strict["passed"] is False
    assert strict["reasons"] == ["pass rate 65.0% is below the minimum 70.0%",
                                 "cost changed -16.7% ($0.2400 -> $0.2000), above the maximum increase of -20%"]


def test_the_candidate_alone_is_gated_on_its_pass_rate(recorded: Running) -> None:
    alone = compare(recorded, candidate="main-latest", min_pass_rate="0.65").json()
    assert alone["passed"] is True and alone["baseline"] is None and alone["pass_rate"]["candidate"] == 0.65
    assert compare(recorded, candidate="pr-7", min_pass_rate="0.65").json()["reasons"] == [
        "pass rate 30.0% is below the minimum 65.0%"]


@pytest.mark.parametrize(("params", "status", "message"), [
    ({"baseline": "main-latest", "candidate": "v2-run"}, 400,
     "baseline 'main-latest' ran on dataset 'golden' version 1 and candidate 'v2-run' on dataset 'golden' version 2"),
    ({"baseline": "main-latest", "candidate": "nope"}, 404, "experiment 'nope' not found in project 'default'"),
    ({"baseline": "nope", "candidate": "pr-7"}, 404, "experiment 'nope' not found"),
    ({"baseline": "main-latest", "candidate": "still-running"}, 409, "'still-running' is running, not done"),
    ({"baseline": "failed-run", "candidate": "pr-7"}, 409, "'failed-run' is failed (endpoint down), not done"),
    ({"baseline": "main-latest"}, 400, "candidate= is required"),
    ({"candidate": "pr-7"}, 400, "without a baseline there is nothing to gate on"),
    ({"candidate": "pr-7", "max_regressions": "2", "min_pass_rate": "0.5"}, 400,
     "max_regressions compare against a baseline"),
    ({"baseline": "main-latest", "candidate": "pr-7", "min_pass_rate": "80"}, 400, "fraction between 0 and 1"),
    ({"baseline": "main-latest", "candidate": "pr-7", "min_pass_rate": "high"}, 400, "'high' is not a number"),
    ({"baseline": "main-latest", "candidate": "pr-7", "max_regressions": "1.5"}, 400, "not a whole number"),
    ({"baseline": "main-latest", "candidate": "pr-7", "max_cost_increase": "inf"}, 400, "not a finite number"),
    ({"baseline": "main-latest", "candidate": "pr-7", "project": "nowhere"}, 404, "project 'nowhere'"),
])
def test_refusals(recorded: Running, params: dict, status: int, message: str) -> None:
    answer = compare(recorded, **params)
    assert answer.status_code == status and message in answer.json()["error"], answer.text


def test_a_deleted_dataset_leaves_the_comparison_readable_without_inputs(recorded: Running) -> None:
    from sqlalchemy import update

    from schemas.metadata.dataset_tables import DatasetRow

    with recorded.service.metadata.session() as db:
        db.execute(update(DatasetRow).values(deleted=True))
        db.commit()
    body = compare(recorded, baseline="main-latest", candidate="pr-7").json()
    assert len(body["regressed"]) == 8 and body["items"][0]["input"] is None


def test_compare_is_not_taken_for_an_experiment_named_compare(running: Running) -> None:
    """Werkzeug ranks a static segment above a variable one, whatever the registration order."""
    served = running.service.ui_app().url_map.bind("localhost")
    assert served.match("/api/v1/experiments/compare", "GET")[0] == "compare_api.compare_experiments"
    app = Flask("order")
    named = Blueprint("named", __name__, url_prefix="/api/v1")
    named.add_url_rule("/experiments/<name>", "experiment", lambda name: name)
    app.register_blueprint(named)  # registered first on purpose
    app.register_blueprint(create_compare_blueprint(running.service.metadata))
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/api/v1/experiments/compare", "GET")[0] == "compare_api.compare_experiments"
    assert adapter.match("/api/v1/experiments/pr-7", "GET") == ("named.experiment", {"name": "pr-7"})


def test_a_reused_dataset_name_is_not_the_same_items(recorded: Running) -> None:
    """A deleted dataset's name, reused: same name and version number, other items; refused."""
    metadata = recorded.service.metadata
    DatasetStore(metadata).delete("default", "golden")
    items = golden_set(metadata, 20)
    record_experiment(metadata, "pr-8", items, PR)
    answer = compare(recorded, baseline="main-latest", candidate="pr-8")
    assert answer.status_code == 400, answer.text
    assert "two different datasets named 'golden'" in answer.json()["error"]
