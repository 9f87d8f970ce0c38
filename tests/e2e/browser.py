"""Headless Debian Chromium driven by Selenium, with the browser console readable by tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
# What the machine's probe found necessary: no sandbox as root, no background network calls
# (the network is closed and refused connections would flood the console).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000",
         # A desktop's mouse: headless Chromium answers "(hover: none)", as a phone would, and plotly then
         # shows every chart's toolbar for good instead of on hover (charts.GRAPH_CONFIG).
         "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium is missing: scripts/test.sh installs Debian's chromium and chromium-driver")
    profile = tempfile.mkdtemp(prefix="llmpulse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_for(driver: webdriver.Chrome, css: str, timeout: float = 20) -> WebElement:
    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


# Dash's renderer keeps its state in the Redux stores it lists on window.dash_stores: `isLoading`
# and `pendingCallbacks` say whether callbacks are still out; a graph still drawing carries
# the dash-graph--pending class (dcc.Graph).
_DASH_IDLE = """
const stores = window.dash_stores || [];
return stores.length > 0 && stores.every(s => !s.getState().isLoading && !(s.getState().pendingCallbacks || []).length)
    && !document.querySelector('.dash-graph--pending, [data-dash-is-loading="true"]');
"""


def dash_idle(driver: webdriver.Chrome) -> bool:
    """No Dash callback pending and no graph still drawing."""
    return bool(driver.execute_script(_DASH_IDLE))


def wait_idle(driver: webdriver.Chrome, timeout: float = 20) -> None:
    """Wait until the page's late callbacks and figures are done (see `dash_idle`)."""
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(dash_idle, "Dash callbacks or figures still pending")


def wait_text(driver: webdriver.Chrome, css: str, text: str, timeout: float = 20) -> None:
    WebDriverWait(driver, timeout).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def type_into(driver: webdriver.Chrome, element_id: str, text: str) -> None:
    """Select-all and type over: WebElement.clear() does not reach React's state in a Dash input."""
    field = driver.find_element(By.ID, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE, text)


def choose(driver: webdriver.Chrome, dropdown_id: str, *labels: str) -> None:
    """Pick options of a Dash dropdown as a person does: open it, click each option, close it."""
    # Under load the page may still be re-rendering from its first callbacks: wait for the control.
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, dropdown_id))[0].click()
    for label in labels:
        # A re-render under load can replace the search box or the option between finding and using
        # it: the whole pick is retried then.
        WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d, text=label: _pick_option(d, text))
    if driver.find_elements(By.CSS_SELECTOR, "[role=option]"):
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    WebDriverWait(driver, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[role=option]"))


def _pick_option(driver: webdriver.Chrome, label: str) -> bool:
    """Click the open dropdown's option `label`, typing it in the search box first when there is one."""
    search = driver.find_elements(By.CSS_SELECTOR, "input.dash-dropdown-search")
    if search:  # a long list: narrow it by typing, so the option is in view
        search[0].send_keys(Keys.CONTROL, "a")
        search[0].send_keys(label)
    option = next((o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == label), None)
    if option is None:
        return False
    option.click()
    return True
