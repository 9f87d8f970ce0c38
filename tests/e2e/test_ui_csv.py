"""The "Download CSV" links in headless Chromium: each carries its page's window and filters, and
what it downloads is the read API's CSV of them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.conftest import Running, make_settings, start_service
from tests.e2e.browser import browser, console_errors, wait_for  # noqa: F401 (the fixture)
from tests.experiment_data import golden_set, record_experiment
from tests.spans import Call

pytestmark = pytest.mark.slow
T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PAGE_WINDOW = f"from={T - timedelta(hours=1):%Y-%m-%dT%H:%MZ}&to={T + timedelta(hours=1):%Y-%m-%dT%H:%MZ}"


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> Iterator[Running]:
    running = start_service(make_settings(tmp_path_factory.mktemp("ui-csv"), chdb_dsn))
    start_ns = int(T.timestamp() * 10**9)
    running.send_calls(*(Call(n, model=("gpt-4o", "gpt-4o-mini")[n % 2], user=f"u-{n}", start_ns=start_ns + n)
                         for n in range(1, 5)))
    record_experiment(running.service.metadata, "main", golden_set(running.service.metadata, 3), [True, False, True])
    yield running
    running.service.stop()


def csv_link(driver, page: str, link_id: str) -> tuple[str, dict[str, list[str]]]:
    driver.get(page)
    href = wait_for(driver, f"#{link_id}").get_attribute("href")
    return href, parse_qs(urlsplit(href).query)


def test_each_download_link_carries_the_pages_filters(listed: Running, browser) -> None:  # noqa: F811
    href, params = csv_link(browser, f"{listed.ui_url}/traces?{PAGE_WINDOW}&model=gpt-4o&status=ok&sort=tokens",
                            "traces-csv")
    assert urlsplit(href).path == "/api/v1/traces"
    assert {k: v[0] for k, v in params.items() if k in ("model", "status", "sort", "format", "project")} == \
        {"model": "gpt-4o", "status": "ok", "sort": "tokens", "format": "csv", "project": "default"}
    assert datetime.fromisoformat(params["from"][0]) == T - timedelta(hours=1)
    download = requests.get(href, timeout=30)
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert len(download.text.strip().splitlines()) == 1 + 2  # the two gpt-4o traces
    assert "Download CSV" in browser.find_element(By.ID, "traces-csv").text

    href, params = csv_link(browser, f"{listed.ui_url}/costs?{PAGE_WINDOW}&by=user&model=gpt-4o-mini", "costs-csv")
    assert urlsplit(href).path == "/api/v1/costs" and params["by"] == ["user"] and params["model"] == ["gpt-4o-mini"]
    rows = requests.get(href, timeout=30).text.strip().splitlines()
    assert rows[0].startswith("key,cost_total") and sorted(r.split(",")[0] for r in rows[1:]) == ["u-1", "u-3"]

    href, params = csv_link(browser, f"{listed.ui_url}/evaluations/experiments/main", "experiment-csv")
    assert urlsplit(href).path == "/api/v1/experiments/main" and params["format"] == ["csv"]
    assert len(requests.get(href, timeout=30).text.strip().splitlines()) == 1 + 3
    assert console_errors(browser) == []
