"""The dashboard in headless Chromium (Debian's ``chromium`` and ``chromium-driver``): the page
loads, the chart has a bar for every week, and a pain score of 4 logged through the form
raises ``pain_stop``. Screenshots land in ``test-artifacts/``."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from syncd.app import App
from syncd.web import create_app

from .support import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium is absent: apt-get install chromium chromium-driver "
    "(.ci/run does)")


@pytest.fixture
def served(sample_app: App) -> Iterator[str]:
    """The sample App served by uvicorn on a free loopback port; yields the base URL."""
    config = uvicorn.Config(create_app(sample_app), host="127.0.0.1", port=0,
                            log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver (no driver download: Debian's)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1000,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _screenshot(browser: Any, name: str, width: int) -> Path:
    """A full-page screenshot at ``width`` CSS pixels."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, height + 120)
    path = ARTIFACTS / name
    browser.save_screenshot(str(path))
    return path


def test_the_dashboard_shows_the_plan_and_logs_pain(served: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(served)
    assert browser.title == "syncd"
    assert browser.find_element(By.CSS_SELECTOR, "#week h2").text == "Plan week 9 of 14"
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart g.week")
    assert [bar.get_attribute("data-week") for bar in bars][:2] == ["2026-09-07", "2026-09-14"]
    assert len(bars) == 14
    over = [bar.get_attribute("data-week")
            for bar in browser.find_elements(By.CSS_SELECTOR, "svg.chart g.week.over")]
    assert over == ["2026-10-12"]
    rules = {a.get_attribute("data-rule") for a in browser.find_elements(
        By.CSS_SELECTOR, "#alerts li.alert")}
    assert "pain_stop" not in rules and "weekly_increase" in rules
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 10

    Select(browser.find_element(By.NAME, "score")).select_by_value("4")
    browser.find_element(By.NAME, "note").send_keys("left hip, after the stairs")
    browser.find_element(By.CSS_SELECTOR, "#pain button[type=submit]").click()

    WebDriverWait(browser, 10).until(lambda b: "logged=" in b.current_url)
    notice = browser.find_element(By.CSS_SELECTOR, "#pain .notice")
    assert notice.text == "Pain 4/10 recorded."
    stop = browser.find_element(By.CSS_SELECTOR, '#alerts li.alert[data-rule="pain_stop"]')
    assert "critical" in (stop.get_attribute("class") or "")
    assert "Stop running" in stop.text
    assert _screenshot(browser, "dashboard.png", 1000).stat().st_size > 10_000
    assert _screenshot(browser, "dashboard-phone.png", 390).stat().st_size > 10_000
