"""Off loopback the UI and its API need a login; roles and same-origin checks hold (real browser too)."""

from __future__ import annotations

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.conftest import Running, login_session
from tests.e2e.browser import browser, console_errors, screenshot, wait_for, wait_text  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
RULE = {"name": "errors", "metric": "error_rate", "comparator": ">", "threshold": 0.1, "window": "5m"}


def submit_login(driver: webdriver.Chrome, username: str, password: str) -> None:
    """Fill and send the login form the UI redirected to."""
    wait_for(driver, "#login-submit")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def logged_in(running: Running, username: str, password: str) -> requests.Session:
    return login_session(running.ui_url, username, password)


def test_everything_but_health_needs_a_login(exposed: Running) -> None:
    assert requests.get(exposed.ui_url + "/healthz", timeout=10).status_code == 200
    assert requests.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 401
    page = requests.get(exposed.ui_url + "/traces", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    dash_call = requests.post(exposed.ui_url + "/_dash-update-component", json={}, timeout=10,
                              headers={"Origin": exposed.ui_url})
    assert dash_call.status_code == 401
    no_origin = requests.post(exposed.ui_url + "/_dash-update-component", json={}, timeout=10)
    assert no_origin.status_code == 403  # a browser always sends Origin; its absence is refused


def test_roles_csrf_and_bad_passwords(exposed: Running) -> None:
    client = requests.Session()
    client.get(exposed.ui_url + "/login", timeout=10)
    forged = client.post(exposed.ui_url + "/login", data={"csrf": "x", "username": "ada",
                                                          "password": "correct horse battery"}, timeout=10)
    assert forged.status_code == 401 and "The form expired" in forged.text
    with pytest.raises(AssertionError):
        logged_in(exposed, "ada", "wrong password!!")
    viewer = logged_in(exposed, "vic", "viewer password 1")
    assert viewer.get(exposed.ui_url + "/api/v1/traces", timeout=10).status_code == 200
    refused = viewer.post(exposed.ui_url + "/api/v1/alert-rules", json=RULE, timeout=10)
    assert refused.status_code == 403 and "admin" in refused.json()["error"]
    admin = logged_in(exposed, "ada", "correct horse battery")
    assert admin.post(exposed.ui_url + "/api/v1/alert-rules", json=RULE, timeout=10).status_code == 201
    cross = admin.post(exposed.ui_url + "/api/v1/alert-rules", json=RULE, headers={"Origin": "http://evil.example"},
                       timeout=10)
    assert cross.status_code == 403 and "cross-origin" in cross.json()["error"]


def test_login_in_the_browser(exposed: Running, browser) -> None:  # noqa: F811
    browser.get(exposed.ui_url + "/traces")
    submit_login(browser, "ada", "not the password")
    wait_text(browser, "#login-error", "Wrong username or password")  # the form posts: wait for the answer page
    screenshot(browser, "login")
    browser.find_element(By.ID, "username").send_keys("ada")
    browser.find_element(By.ID, "password").send_keys("correct horse battery")
    browser.find_element(By.ID, "login-submit").click()
    wait_text(browser, "#page h1", "Traces")
    assert [e for e in console_errors(browser) if "/login" not in e] == []

