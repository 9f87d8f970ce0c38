"""CSV downloads of the read API (`format=csv`): the same rows as the JSON under the same parameters,
cells a spreadsheet cannot run as formulas, the same 400s, and bounded answers that say so."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dashboard.csv_export import csv_cell
from evals.experiment_view import RESULT_COLUMNS
from schemas.metadata.experiments import ExperimentStore, NewExperiment
from tests.conftest import Running, make_settings, start_service
from tests.experiment_data import golden_set
from tests.spans import Call

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = {"from": (T - timedelta(hours=1)).isoformat(), "to": (T + timedelta(hours=1)).isoformat()}
HOSTILE = "=HYPERLINK(\"http://evil.example\",\"click\")"  # a user id an attacker chose


def call(n: int, model: str, user: str, minute: int) -> Call:
    start_ns = int(T.timestamp() * 10**9) + minute * 60 * 10**9
    return Call(n, model=model, user=user, session=f"s-{n % 2}", start_ns=start_ns,
                input_tokens=100 * n, output_tokens=10, tags=("@tag",) if n == 3 else ())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    """Five traces over two models (one unpriced), one of them from a hostile user id; one experiment."""
    running = start_service(make_settings(tmp_path_factory.mktemp("csv"), chdb_dsn))
    running.send_calls(call(1, "gpt-4o-mini", HOSTILE, 1), call(2, "gpt-4o-mini", "+1-555", 2),
                       call(3, "gpt-4o", "u-3", 3), call(4, "no-such-model-x", "-2", 4),
                       call(5, "gpt-4o", "u-5", 5))
    items = golden_set(running.service.metadata, 3)
    experiments = ExperimentStore(running.service.metadata)
    experiments.create(NewExperiment("default", "exp, \"quoted\"", "golden", 1, "app", 3, {"model": "m"}))
    experiments.add_results("default", "exp, \"quoted\"", [
        {"item_id": item, "output": ("=1+1", "plain, with comma", "line\nbreak")[n], "passed": n != 1,
         "scores": {"expected_match": {"value": float(n != 1)}}, "cost": 0.01, "latency_ms": 100 + n}
        for n, item in enumerate(items)])
    experiments.finish("default", "exp, \"quoted\"", "done", "")
    yield running
    running.service.stop()


def rows_of(answer: requests.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8"), newline="")))


def as_cells(columns: list[str], rows: list[dict[str, Any]]) -> list[list[str]]:
    """JSON rows as the CSV writes them (every cell a string once read back)."""
    return [[str(csv_cell(row.get(column))) for column in columns] for row in rows]


@pytest.mark.parametrize("params", [{}, {"model": "gpt-4o-mini"}, {"user": HOSTILE}, {"sort": "tokens", "order": "asc"},
                                    {"status": "ok", "limit": "2", "offset": "1"}, {"tag": "@tag"}])
def test_the_trace_list_as_csv_has_the_rows_of_the_json(exported: Running, params: dict[str, str]) -> None:
    wanted = {**WINDOW, "limit": "50", **params}
    page = exported.get("/api/v1/traces", **wanted).json()
    header, *rows = rows_of(exported.get("/api/v1/traces", format="csv", **wanted))
    assert rows == as_cells(header, page["traces"])
    assert header[0] == "trace_id" and len(rows) == len(page["traces"])
    assert all(set(header) == set(row) for row in page["traces"])  # every field of the JSON, whatever the sort


def test_the_trace_csv_takes_the_whole_window_and_says_when_rows_were_left_out(exported: Running) -> None:
    everything = exported.get("/api/v1/traces", format="csv", **WINDOW)
    assert len(rows_of(everything)) == 1 + 5 and everything.headers["X-Total-Count"] == "5"
    assert "X-Llmpulse-Truncated" not in everything.headers
    bounded = exported.get("/api/v1/traces", format="csv", limit=2, **WINDOW)
    assert len(rows_of(bounded)) == 1 + 2
    assert bounded.headers["X-Llmpulse-Truncated"] == "3 more rows; ask again with offset=2"
    assert 'filename="llmpulse-traces-default.csv"' in everything.headers["Content-Disposition"]


def test_a_cell_that_would_run_as_a_formula_is_prefixed(exported: Running) -> None:
    header, *rows = rows_of(exported.get("/api/v1/traces", format="csv", **WINDOW))
    users = {row[header.index("user_id")] for row in rows}
    assert users == {"'" + HOSTILE, "'+1-555", "u-3", "'-2", "u-5"}
    assert {row[header.index("tokens")] for row in rows} >= {"110", "510"}  # numbers stay numbers
    assert (csv_cell(-1.5), csv_cell("-1.5"), csv_cell("@x"), csv_cell("\tx"), csv_cell(None), csv_cell(True)) \
        == (-1.5, "'-1.5", "'@x", "'\tx", "", "true")
    assert csv_cell(["a", {"b": 1}]) == '["a", {"b": 1}]'


@pytest.mark.parametrize("params", [{}, {"by": "user"}, {"by": "tag", "model": "gpt-4o"}, {"by": "provider"}])
def test_the_cost_tables_as_csv_have_the_rows_of_the_json(exported: Running, params: dict[str, str]) -> None:
    answer = exported.get("/api/v1/costs", **WINDOW, **params).json()
    assert answer["groups"] and answer["by"] == params.get("by", "model")
    for table in ("groups", "unpriced"):
        header, *rows = rows_of(exported.get("/api/v1/costs", format="csv", table=table, limit=50, **WINDOW,
                                             **params))
        assert rows == as_cells(header, answer[table]), table
    header, *rows = rows_of(exported.get("/api/v1/costs", format="csv", **WINDOW, **params))  # groups by default
    assert rows == as_cells(header, answer["groups"])


def test_the_costs_api_adds_up_and_lists_the_unpriced_model(exported: Running) -> None:
    answer = exported.get("/api/v1/costs", **WINDOW).json()
    assert {g["key"]: g["requests"] for g in answer["groups"]} == {"gpt-4o-mini": 2, "gpt-4o": 2,
                                                                  "no-such-model-x": 1}
    assert [u["key"] for u in answer["unpriced"]] == ["no-such-model-x"]
    assert set(exported.get("/api/v1/costs", table="unpriced", **WINDOW).json()) >= {"unpriced"}
    assert "groups" not in exported.get("/api/v1/costs", table="unpriced", **WINDOW).json()


def test_an_experiments_results_as_csv_have_the_rows_of_the_json(exported: Running) -> None:
    view = exported.get("/api/v1/experiments/exp, \"quoted\"").json()
    answer = exported.get("/api/v1/experiments/exp, \"quoted\"", format="csv")
    header, *rows = rows_of(answer)
    assert header == list(RESULT_COLUMNS) and rows == as_cells(header, view["results"])
    assert [row[header.index("output")] for row in rows] == ["'=1+1", "plain, with comma", "line\nbreak"]
    assert 'filename="llmpulse-experiment-default-exp-quoted.csv"' in answer.headers["Content-Disposition"]


@pytest.mark.parametrize(("path", "params", "named"), [
    ("/api/v1/traces", {"format": "xlsx"}, "format"),
    ("/api/v1/traces", {"format": "csv", "limit": "10001"}, "limit"),
    ("/api/v1/traces", {"format": "csv", "from": "yesterday"}, "from"),
    ("/api/v1/traces", {"format": "csv", "signal": "nope"}, "signal"),
    ("/api/v1/costs", {"format": "csv", "by": "colour"}, "by"),
    ("/api/v1/costs", {"format": "csv", "table": "prices"}, "table"),
    ("/api/v1/costs", {"format": "csv", "limit": "0"}, "limit"),
    ("/api/v1/costs", {"format": "csv", "colour": "blue"}, "colour"),
    ("/api/v1/experiments/exp", {"format": "pdf"}, "format"),
])
def test_bad_parameters_are_a_400_naming_them_as_for_the_json(exported: Running, path: str, params: dict[str, str],
                                                              named: str) -> None:
    answer = exported.get(path, **params)
    assert answer.status_code == 400 and named in answer.json()["error"], answer.text


def test_a_missing_experiment_or_project_is_a_404_in_csv_too(exported: Running) -> None:
    assert exported.get("/api/v1/experiments/none", format="csv").status_code == 404
    assert exported.get("/api/v1/traces", format="csv", project="nope").status_code == 404


def test_an_empty_answer_still_has_the_header_of_a_full_one(exported: Running) -> None:
    full = rows_of(exported.get("/api/v1/traces", format="csv", **WINDOW))[0]
    assert rows_of(exported.get("/api/v1/traces", format="csv", model="none", **WINDOW)) == [full]
    costs = rows_of(exported.get("/api/v1/costs", format="csv", **WINDOW))[0]
    assert rows_of(exported.get("/api/v1/costs", format="csv", model="none", **WINDOW)) == [costs]
