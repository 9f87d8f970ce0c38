"""The Settings page in real headless Chromium: projects, a key shown once that really ingests, revoking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from schemas.metadata.tokens import TokenStore
from schemas.metadata.users import UserStore
from tests.conftest import Running, login_session, make_settings, start_service
from tests.conftest import wait_for as wait_for_condition
from tests.e2e.browser import (  # noqa: F401 (the fixture)
    browser,
    choose,
    console_errors,
    screenshot,
    type_into,
    wait_for,
    wait_idle,
    wait_text,
)
from tests.spans import Call

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    handle = start_service(make_settings(tmp_path_factory.mktemp("settings"), chdb_dsn))
    yield handle
    handle.service.stop()


def test_the_page_loads_without_console_errors(running: Running, browser) -> None:  # noqa: F811
    browser.get(running.ui_url + "/settings")
    wait_for(browser, "#projects")
    assert "default" in browser.find_element(By.ID, "projects").text
    wait_idle(browser)  # late callbacks done
    screenshot(browser, "settings")
    assert console_errors(browser) == []


def test_a_key_created_in_the_ui_is_shown_once_ingests_and_revokes(running: Running, browser) -> None:  # noqa: F811
    browser.get(running.ui_url + "/settings")
    wait_for(browser, "#project-create")
    type_into(browser, "project-name", "Bad Name")
    browser.find_element(By.ID, "project-create").click()
    wait_text(browser, "#project-create-message", "invalid project name")
    type_into(browser, "project-name", "ui-keys")
    browser.find_element(By.ID, "project-create").click()
    wait_for(browser, "#project-created")

    browser.find_element(By.ID, "settings-project-select").click()  # the selector puts the project in the URL
    wait_for(browser, "[role=option]")
    next(o for o in browser.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == "ui-keys").click()
    WebDriverWait(browser, 20).until(lambda d: "project=ui-keys" in d.current_url)
    wait_text(browser, "#page h2 code", "ui-keys")
    type_into(browser, "key-name", "ci")
    browser.find_element(By.ID, "key-create").click()
    key = wait_for(browser, "#key-secret").text
    assert key.startswith("lp_")
    usage = browser.find_element(By.ID, "key-usage").text
    assert f'export OTEL_EXPORTER_OTLP_HEADERS="Authorization=Bearer {key}"' in usage
    assert usage.count(":" + running.otlp_url.rsplit(":", 1)[1]) == 1  # the collector's real port
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=" in usage
    screenshot(browser, "settings-key-created")

    running.send_calls(Call(0x5E77, 1), headers={"Authorization": f"Bearer {key}"})
    traces = running.get("/api/v1/traces", project="ui-keys").json()["traces"]
    assert [t["trace_id"] for t in traces] == [f"{0x5E77:032x}"]

    browser.get(running.ui_url + "/settings?project=ui-keys")
    wait_for(browser, "#keys .key-row")
    assert key not in browser.page_source  # shown once: the list has the prefix only
    (info,) = running.service.metadata.list_keys("ui-keys")
    assert f"{info.prefix}…" in browser.find_element(By.ID, "keys").text
    browser.find_element(By.CSS_SELECTOR, "#keys button.link").click()
    wait_for(browser, "#key-revoked")
    assert "revoked" in browser.find_element(By.ID, "keys").text
    (info,) = running.service.metadata.list_keys("ui-keys")
    assert info.revoked_at is not None
    assert running.service.metadata.resolve_key(key) is None
    assert console_errors(browser) == []


def test_a_viewer_cannot_change_settings_through_a_dash_callback(tmp_path: Path, chdb_dsn: str) -> None:
    """The route guard keeps viewers off /settings, but callbacks POST to /_dash-update-component."""
    exposed = start_service(make_settings(tmp_path, chdb_dsn, host="0.0.0.0"))
    try:
        UserStore(exposed.service.metadata).create("vic", "viewer password 1", "viewer")
        viewer = login_session(exposed.ui_url, "vic", "viewer password 1")
        assert viewer.get(exposed.ui_url + "/settings", timeout=10).status_code == 403
        outputs = [{"id": i, "property": "children"} for i in ("key-message", "keys-list", "key-new")]
        call = {"output": "..key-message.children...keys-list.children...key-new.children..", "outputs": outputs,
                "inputs": [{"id": "key-create", "property": "n_clicks", "value": 1}, []],
                "changedPropIds": ["key-create.n_clicks"],
                "state": [{"id": "settings-project", "property": "data", "value": "default"},
                          {"id": "key-name", "property": "value", "value": "sneaky"}]}
        answer = viewer.post(exposed.ui_url + "/_dash-update-component", json=call, timeout=10,
                             headers={"Origin": exposed.ui_url})
        assert answer.status_code == 200 and "needs the admin role" in answer.text
        assert exposed.service.metadata.list_keys("default") == []
    finally:
        exposed.service.stop()


def test_the_sample_rate_is_validated_and_saved(running: Running, browser) -> None:  # noqa: F811
    browser.get(running.ui_url + "/settings?project=default")
    wait_for(browser, "#project-save")
    type_into(browser, "project-rate", "1.5")
    browser.find_element(By.ID, "project-save").click()
    wait_text(browser, "#project-message", "from 0 to 1")
    assert "1.5" in browser.find_element(By.ID, "project-message").text
    type_into(browser, "project-rate", "0.5")
    type_into(browser, "project-retention", "90")
    browser.find_element(By.ID, "project-save").click()
    wait_for(browser, "#project-saved")
    projects = {p["name"]: p for p in running.get("/api/v1/projects").json()["projects"]}
    assert projects["default"]["eval_sample_rate"] == 0.5
    assert running.service.metadata.require_project("default").retention_days == 90
    assert "50.0%" in browser.find_element(By.ID, "projects").text
    screenshot(browser, "settings-saved")
    assert console_errors(browser) == []


def test_an_api_token_created_in_the_ui_is_shown_once_works_and_revokes(running: Running, browser) -> None:  # noqa: F811
    UserStore(running.service.metadata).create("ada", "correct horse battery", "admin")
    UserStore(running.service.metadata).create("cibot", "ci bot password", "viewer")
    browser.get(running.ui_url + "/settings")
    wait_for(browser, "#token-create")
    assert "No API tokens yet" in browser.find_element(By.ID, "tokens-list").text
    choose(browser, "token-user", "cibot")
    type_into(browser, "token-name", "github-actions")
    type_into(browser, "token-expires", "soon")
    browser.find_element(By.ID, "token-create").click()
    wait_text(browser, "#token-message", "whole number of days")
    assert TokenStore(running.service.metadata).list() == []
    type_into(browser, "token-expires", "30")
    browser.find_element(By.ID, "token-create").click()
    token = wait_for(browser, "#token-secret").text
    assert token.startswith("lpt_") and "Token 1 for cibot created" in browser.find_element(By.ID, "token-message").text
    assert f'export LLMPULSE_TOKEN="{token}"' in browser.find_element(By.ID, "token-usage").text
    screenshot(browser, "settings-token-created")
    (info,) = TokenStore(running.service.metadata).list()
    assert (info.username, info.name, (info.expires_at - info.created_at).days) == ("cibot", "github-actions", 30)

    answer = requests.get(running.ui_url + "/api/v1/traces", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200
    browser.get(running.ui_url + "/settings")
    wait_for(browser, "#tokens .token-row")
    assert token not in browser.page_source  # shown once: the list has the prefix only
    row = browser.find_element(By.CSS_SELECTOR, "#tokens .token-row").text
    assert f"{info.prefix}…" in row and "cibot" in row and "active" in row
    assert "never" not in row  # it expires, and it was used just now
    browser.find_element(By.CSS_SELECTOR, "#tokens button.link").click()
    wait_for(browser, "#token-revoked")
    assert "revoked" in browser.find_element(By.ID, "tokens").text
    wait_for_condition(lambda: requests.get(running.ui_url + "/api/v1/traces", timeout=10,
                                            headers={"Authorization": f"Bearer {token}"}).status_code == 401,
                       5, "the revoked token still works")
    assert console_errors(browser) == []
