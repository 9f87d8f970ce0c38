"""What each role may change, for every state-changing route and Dash action, as the README says.

Viewers read everything but /settings, acknowledge and silence incidents, post scores and
label spans; admins change everything else. An API token acts exactly as a session of its user on
every API route, without the Origin header a browser sends. A new POST/PUT/DELETE route or a new Dash callback input
makes these tests fail until it is entered in the tables below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dashboard.auth import LOGIN_FIRST
from schemas.dataset_items import parse_items
from schemas.metadata.datasets import DatasetStore
from schemas.metadata.experiments import ExperimentStore
from schemas.metadata.guard_store import GuardStore
from schemas.metadata.regression import RegressionStore
from schemas.metadata.tokens import TokenStore
from tests.conftest import Running, login_session, start_exposed

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# (method, rule) → who may: "admin", "viewer" (viewers and admins), "anyone" (no login needed),
# "signed-in" (any role reaches it; Dash callbacks check the role themselves, see DASH_ACTIONS).
ROUTES = {
    ("POST", "/login"): "anyone",
    ("POST", "/logout"): "anyone",
    ("POST", "/_dash-update-component"): "signed-in",
    ("POST", "/api/v1/alerts/<int:incident_id>/ack"): "viewer",
    ("POST", "/api/v1/alerts/<int:incident_id>/silence"): "viewer",
    ("POST", "/api/v1/scores"): "viewer",
    ("POST", "/api/v1/detectors/run"): "admin",
    ("PUT", "/api/v1/projects/<name>"): "admin",
    ("POST", "/api/v1/channels"): "admin",
    ("DELETE", "/api/v1/channels/<int:channel_id>"): "admin",
    ("POST", "/api/v1/channels/<int:channel_id>/test"): "admin",
    ("POST", "/api/v1/alert-rules"): "admin",
    ("PUT", "/api/v1/alert-rules/<int:rule_id>"): "admin",
    ("DELETE", "/api/v1/alert-rules/<int:rule_id>"): "admin",
    ("POST", "/api/v1/budgets"): "admin",
    ("DELETE", "/api/v1/budgets/<int:budget_id>"): "admin",
    ("POST", "/api/v1/guards"): "admin",
    ("DELETE", "/api/v1/guards/<int:guard_id>"): "admin",
    ("POST", "/api/v1/slos"): "admin",
    ("DELETE", "/api/v1/slos/<int:slo_id>"): "admin",
    ("POST", "/api/v1/datasets"): "admin",
    ("POST", "/api/v1/datasets/<name>/items"): "admin",
    ("POST", "/api/v1/datasets/<name>/items/from-span"): "admin",
    ("POST", "/api/v1/experiments"): "admin",
    ("POST", "/api/v1/experiments/<name>/finish"): "admin",
    ("PATCH", "/api/v1/datasets/<name>/items/<int:item_id>"): "admin",
    ("DELETE", "/api/v1/datasets/<name>/items/<int:item_id>"): "admin",
    ("DELETE", "/api/v1/datasets/<name>"): "admin",
    ("POST", "/api/v1/annotations"): "viewer",
}
# Reads that are not plain lists of the project (they take names or compute): who may read them.
READS = {("GET", "/api/v1/experiments/compare"): "viewer", ("GET", "/api/v1/projects/default"): "viewer",
         ("GET", "/api/v1/shadow"): "viewer", ("GET", "/api/v1/compare"): "viewer", ("GET", "/metrics"): "viewer",
         ("GET", "/api/v1/guard/status"): "viewer", ("GET", "/api/v1/guard/check"): "viewer",
         ("GET", "/api/v1/metrics/otel"): "viewer", ("GET", "/api/v1/traces"): "viewer",
         ("GET", "/api/v1/costs"): "viewer", ("GET", "/api/v1/experiments/none"): "viewer",
         ("GET", "/api/v1/users/u-1"): "viewer", ("GET", "/api/v1/sessions/s-1"): "viewer"}
READ_PARAMS = {"/api/v1/experiments/compare": {"baseline": "none", "candidate": "none"}, "/metrics": {},
               "/api/v1/compare": {"attribute": "model", "a": "gpt-4o", "b": "gpt-4o-mini"}, "/api/v1/shadow": {},
               "/api/v1/projects/default": {}, "/api/v1/guard/status": {}, "/api/v1/guard/check": {},
               "/api/v1/metrics/otel": {}, "/api/v1/traces": {"format": "csv"}, "/api/v1/costs": {"format": "csv"},
               "/api/v1/experiments/none": {"format": "csv"},  # the CSV downloads: what a viewer reads
               "/api/v1/users/u-1": {}, "/api/v1/sessions/s-1": {}}
BODIES = {"/api/v1/detectors/run": {"detectors": ["no-such-detector"]}}  # nothing runs, for any role
# Inputs of Dash callbacks that change state → who may; every other input only navigates or fills a form.
DASH_ACTIONS = {
    "incident-ack": "viewer", "incident-silence": "viewer",
    "price-save": "admin", "price-delete": "admin",
    "rule-create": "admin", "rule-delete": "admin", "rule-toggle": "admin",
    "channel-create": "admin", "channel-test": "admin", "channel-delete": "admin",
    "budget-create": "admin", "budget-delete": "admin",
    "slo-create": "admin", "slo-delete": "admin",
    "guard-create": "admin", "guard-delete": "admin",
    "project-save": "admin", "project-create": "admin",
    "key-create": "admin", "key-revoke": "admin",
    "token-create": "admin", "token-revoke": "admin",
    "import-run": "admin", "run-start": "admin", "regression-save": "admin", "regression-remove": "admin",
    "annotate-correct": "viewer", "annotate-incorrect": "viewer", "annotate-unsure": "viewer",
    "annotate-send": "admin", "span-add": "admin", "quality-run-now": "admin",
}
DASH_VIEWS = {"url", "range-apply", "filter-model", "filter-service", "filter-environment", "filter-user",
              "filter-session", "filter-tag", "filter-status", "filter-signal", "trace-search", "price-pick",
              "quality-model",
              "rule-metric", "guard-metric", "rule-edit", "rule-cancel", "channel-type", "settings-project-select",
              "channel-test-pending", "channel-test-poll",
              # Evaluations: pickers that write the URL, the refresh of a running experiment, and the
              # upload, which only reads and checks a file (import-run stores it)
              "experiments-dataset", "dataset-version", "experiment-refresh", "import-upload", "compare-baseline",
              "compare-candidate", "compare-min_pass_rate", "compare-max_regressions", "compare-max_cost_increase",
              "compare-max_p95_increase", "annotate-skip", "annotate-queue-dataset", "ab-attribute", "ab-a", "ab-b",
              # Settings, the regression set: rows added and removed, the channel choice (kept only on save)
              "regression-target-add", "regression-target-remove", "regression-notify"}
ADMIN_ONLY = "needs the admin role"
NO_ID = 999_999  # no such incident, rule, channel...: a permitted request changes nothing either


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_exposed(tmp_path_factory.mktemp("rights"), chdb_dsn)
    yield running
    running.service.stop()


def client_for(running: Running, role: str) -> requests.Session:
    """A session logged in as `role`, or, for "admin-token" and "viewer-token", a client sending
    that user's API token (and no cookie)."""
    if role == "anonymous":
        return requests.Session()
    if role.endswith("-token"):
        client = requests.Session()
        user = {"admin-token": "ada", "viewer-token": "vic"}[role]
        client.headers["Authorization"] = "Bearer " + TokenStore(running.service.metadata).create(user).token
        return client
    user, password = {"admin": ("ada", "correct horse battery"), "viewer": ("vic", "viewer password 1")}[role]
    return login_session(running.ui_url, user, password)


def verdict(answer: requests.Response) -> str:
    """'login' or 'admin' when the route guard refused, else 'passed' (the endpoint itself answered)."""
    error = answer.json().get("error", "") if answer.headers.get("Content-Type", "").startswith("application/json") \
        and isinstance(answer.json(), dict) else ""
    if answer.status_code == 401 and error == LOGIN_FIRST:
        return "login"
    if answer.status_code == 403 and ADMIN_ONLY in error:
        return "admin"
    return "passed"


def expected(rights: str, role: str) -> str:
    role = role.removesuffix("-token")
    if rights == "anyone" or role == "admin":
        return "passed"
    if role == "anonymous":
        return "login"
    return "admin" if rights == "admin" else "passed"


def state_changing_routes(running: Running) -> set[tuple[str, str]]:
    app = running.service.ui_app()  # the same construction as the served one
    return {(m, r.rule) for r in app.url_map.iter_rules() for m in (r.methods or set()) & CHANGING}


def test_every_state_changing_route_is_in_the_table(exposed: Running) -> None:
    assert state_changing_routes(exposed) == set(ROUTES)


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin", "viewer-token", "admin-token"])
def test_each_role_on_each_state_changing_route(exposed: Running, role: str) -> None:
    client = client_for(exposed, role)
    outcomes, wanted = {}, {}
    origin = {} if role.endswith("-token") else {"Origin": exposed.ui_url}  # a script sends none
    for (method, rule), rights in sorted(ROUTES.items(), key=lambda item: item[0][1] == "/logout"):
        if role.endswith("-token") and not rule.startswith("/api/"):
            continue  # tokens are for the API; pages and Dash keep sessions
        path = re.sub(r"<[^>]+>", str(NO_ID), rule)
        answer = client.request(method, exposed.ui_url + path, json=BODIES.get(path, {}), timeout=30,
                                headers=origin)
        outcomes[(method, rule)], wanted[(method, rule)] = verdict(answer), expected(rights, role)
    assert outcomes == wanted


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin"])
def test_each_role_on_each_listed_read(exposed: Running, role: str) -> None:
    """A viewer reaches the read (its own 404 for an experiment that does not exist), anonymous does not."""
    client = client_for(exposed, role)
    outcomes = {route: verdict(client.request(route[0], exposed.ui_url + route[1], timeout=30,
                                              params=READ_PARAMS[route[1]]))
                for route in READS}
    assert outcomes == {route: expected(rights, role) for route, rights in READS.items()}
    if role != "anonymous":
        answer = client.get(exposed.ui_url + "/api/v1/experiments/compare", params={"candidate": "none",
                                                                                  "baseline": "none"}, timeout=30)
        assert answer.status_code == 404 and "experiment 'none' not found" in answer.json()["error"]
        cohorts = client.get(exposed.ui_url + "/api/v1/compare", params=READ_PARAMS["/api/v1/compare"], timeout=30)
        assert cohorts.status_code == 200 and cohorts.json()["a"]["requests"] == 0, cohorts.text
        download = client.get(exposed.ui_url + "/api/v1/costs", params={"format": "csv"}, timeout=30)
        assert download.status_code == 200 and download.headers["Content-Type"] == "text/csv; charset=utf-8"


def dash_call(dep: dict[str, Any], action: str) -> dict[str, Any]:
    """A callback request as the browser sends it when the `action` button is clicked."""
    def entry(item: dict[str, Any], fired: bool) -> Any:
        if item["id"].startswith("{"):
            kind = json.loads(item["id"])["type"]
            pattern_id = {"id": NO_ID, "type": kind}
            return [{"id": pattern_id, "property": item["property"], "value": 1 if fired else None}]
        value = "default" if item["id"].endswith("-project") else 1 if fired else None  # the page's project
        return {"id": item["id"], "property": item["property"], "value": value}

    inputs = [entry(i, input_name(i) == action) for i in dep["inputs"]]
    fired = next(i for i in inputs if (i[0] if isinstance(i, list) else i)["value"] == 1)
    fired = fired[0] if isinstance(fired, list) else fired
    fired_id = fired["id"] if isinstance(fired["id"], str) else json.dumps(fired["id"], sort_keys=True,
                                                                           separators=(",", ":"))
    outputs = [dict(zip(("id", "property"), part.split(".", 1), strict=True))
               for part in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": inputs,
            "changedPropIds": [f"{fired_id}.{fired['property']}"],
            "state": [entry(s, False) if not s["id"].startswith("{") else [] for s in dep["state"]]}


def input_name(item: dict[str, Any]) -> str:
    return json.loads(item["id"])["type"] if item["id"].startswith("{") else item["id"]


def dash_dependencies(running: Running) -> list[dict[str, Any]]:
    return client_for(running, "admin").get(running.ui_url + "/_dash-dependencies", timeout=30).json()


def test_every_dash_callback_input_is_classified(exposed: Running) -> None:
    names = {input_name(i) for dep in dash_dependencies(exposed) for i in dep["inputs"]}
    assert names == set(DASH_ACTIONS) | DASH_VIEWS


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin"])
def test_each_role_on_each_dash_action(exposed: Running, role: str) -> None:
    client, deps = client_for(exposed, role), dash_dependencies(exposed)
    before = snapshot(exposed)
    outcomes, wanted = {}, {}
    for action, rights in DASH_ACTIONS.items():
        dep = next(d for d in deps if any(input_name(i) == action for i in d["inputs"]))
        answer = client.post(exposed.ui_url + "/_dash-update-component", json=dash_call(dep, action), timeout=30,
                             headers={"Origin": exposed.ui_url})
        outcomes[action] = ("login" if answer.status_code == 401 else
                            "admin" if "needs the admin role" in answer.text else
                            "passed" if answer.status_code == 200 else f"failed: {answer.status_code}")
        wanted[action] = expected(rights, role)
    assert outcomes == wanted
    if role != "admin":
        assert snapshot(exposed) == before


def snapshot(running: Running) -> tuple[Any, ...]:
    alerts, meta = running.service.alert_store, running.service.metadata
    return (len(meta.list_keys()), len(TokenStore(meta).list()), [p.name for p in meta.list_projects()],
            meta.list_price_overrides(), alerts.list_rules("default"), alerts.list_channels("default"),
            alerts.list_budgets("default"), DatasetStore(meta).list_datasets("default"),
            ExperimentStore(meta).list_experiments("default"), RegressionStore(meta).get_set("default"),
            alerts.list_slos("default"), GuardStore(meta).list("default"))


def test_a_refused_key_callback_returns_no_key_list(exposed: Running) -> None:
    exposed.service.metadata.create_key("default", "existing")
    dep = next(d for d in dash_dependencies(exposed) if any(input_name(i) == "key-create" for i in d["inputs"]))
    call = dash_call(dep, "key-create")
    call["state"] = [{"id": "settings-project", "property": "data", "value": "default"},
                     {"id": "key-name", "property": "value", "value": "sneaky"}]
    answer = client_for(exposed, "viewer").post(exposed.ui_url + "/_dash-update-component", json=call,
                                                timeout=30, headers={"Origin": exposed.ui_url})
    assert answer.status_code == 200 and "needs the admin role" in answer.text
    response = answer.json()["response"]
    assert set(response) == {"key-message"}  # keys-list and key-new untouched
    assert "existing" not in answer.text and "lp_" not in answer.text


def test_a_viewer_cannot_run_an_experiment_from_the_form(exposed: Running) -> None:
    """A complete, valid run request from a viewer's session starts nothing (the same one from an
    admin would: tests/e2e/test_ui_run_experiment.py)."""
    datasets = DatasetStore(exposed.service.metadata)
    datasets.create("default", "golden")
    datasets.add_items("default", "golden", parse_items([{"input": "Capital of France?", "expected": "Paris"}]))
    dep = next(d for d in dash_dependencies(exposed) if any(input_name(i) == "run-start" for i in d["inputs"]))
    call = dash_call(dep, "run-start")
    values = {"run-name": "sneaky", "run-dataset": "golden", "run-model": "gpt-4o-mini",
              "run-endpoint": "http://127.0.0.1:9/v1"}
    call["state"] = [{**s, "value": values.get(s["id"])} for s in call["state"]]
    answer = client_for(exposed, "viewer").post(exposed.ui_url + "/_dash-update-component", json=call,
                                                timeout=30, headers={"Origin": exposed.ui_url})
    assert answer.status_code == 200 and "needs the admin role" in answer.text
    assert set(answer.json()["response"]) == {"run-message"}  # the page stays where it is
    assert ExperimentStore(exposed.service.metadata).list_experiments("default") == []


def test_a_viewer_cannot_save_a_regression_set_from_the_form(exposed: Running) -> None:
    """A complete, valid regression set from a viewer's session stores nothing and sends back no form
    (the same from an admin's session is stored: tests/e2e/test_ui_regression_set.py)."""
    DatasetStore(exposed.service.metadata).create("default", "regression-golden")
    dep = next(d for d in dash_dependencies(exposed) if any(input_name(i) == "regression-save" for i in d["inputs"]))
    call = dash_call(dep, "regression-save")
    values = {"regression-dataset": "regression-golden", "regression-min-pass-rate": "0.8",
              "regression-notify": "every"}
    row = [{"id": {"field": field, "id": 0, "type": "regression-target"}, "property": "value", "value": value}
           for field, value in (("requested", "gpt-4o"), ("endpoint", "http://127.0.0.1:9/v1"))]
    call["state"] = [{**s, "value": values.get(s["id"], s.get("value"))} if isinstance(s, dict) else row
                     for s in call["state"]]
    answer = client_for(exposed, "viewer").post(exposed.ui_url + "/_dash-update-component", json=call,
                                                timeout=30, headers={"Origin": exposed.ui_url})
    assert answer.status_code == 200 and "needs the admin role" in answer.text
    assert set(answer.json()["response"]) == {"regression-message"}  # the form is not sent back
    assert RegressionStore(exposed.service.metadata).get_set("default") is None
    admin = client_for(exposed, "admin").post(exposed.ui_url + "/_dash-update-component", json=call, timeout=30,
                                              headers={"Origin": exposed.ui_url})
    assert admin.status_code == 200 and "Saved: regression-golden runs against gpt-4o" in admin.text, admin.text
    saved = RegressionStore(exposed.service.metadata).get_set("default")
    assert saved is not None and saved.targets == {"gpt-4o": {"endpoint": "http://127.0.0.1:9/v1", "model": "gpt-4o"}}
    RegressionStore(exposed.service.metadata).save_set("default", None, {}, None, None)  # the module's server, as found


def route_to(running: Running, role: str, path: str) -> tuple[str, list[str]]:
    """The page the router callback renders for `path` in a `role`'s session (a click on a nav link:
    the HTTP check sees only the callback's own path), and the nav's links."""
    dep = next(d for d in dash_dependencies(running) if d["output"].startswith("..page.children"))
    inputs = [{"id": "url", "property": "pathname", "value": path}, {"id": "url", "property": "search", "value": ""}]
    call = {"output": dep["output"], "inputs": inputs, "changedPropIds": ["url.pathname"], "state": [],
            "outputs": [dict(zip(("id", "property"), part.split(".", 1), strict=True))
                        for part in dep["output"].strip(".").split("...")]}
    answer = client_for(running, role).post(running.ui_url + "/_dash-update-component", json=call, timeout=30,
                                            headers={"Origin": running.ui_url})
    assert answer.status_code == 200, answer.text[:300]
    response = answer.json()["response"]
    return json.dumps(response["page"]), [link["props"]["href"] for link in response["nav"]["children"]]


def test_a_viewer_routed_to_settings_gets_no_settings_and_no_settings_link(exposed: Running) -> None:
    (viewer, viewer_nav), (admin, admin_nav) = route_to(exposed, "viewer", "/settings"), route_to(exposed, "admin",
                                                                                                  "/settings")
    assert "Settings need an admin" in viewer and "Recent regression runs" not in viewer and "vic" not in viewer
    assert "/settings" not in viewer_nav and "/alerts" in viewer_nav
    assert "Recent regression runs" in admin and "/settings" in admin_nav


def test_a_viewer_gets_no_run_now_button_on_the_quality_page(exposed: Running) -> None:
    (viewer, _), (admin, _) = route_to(exposed, "viewer", "/quality"), route_to(exposed, "admin", "/quality")
    assert "Hallucination scorer:" in viewer and "quality-run-now" not in viewer
    assert "quality-run-now" in admin
