"""The Gradio page at /ui in headless Chromium: a text in, its summary and its measured energy out."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, chromium_available
from greentune.serve.app import AppOptions, create_app
from ports import free_port
from serve_fakes import PowerSensor, WordSummarizer, fake_engine

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason="needs Debian chromium (`make browser`)"),
]


def serve_in_thread(app: object) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def page_url() -> Iterator[str]:
    sensor = PowerSensor()
    engine = fake_engine(WordSummarizer(sensor, joules_per_batch=5.0), sensor)
    yield from serve_in_thread(create_app(engine, AppOptions(timeout_s=10, ui=True)))


def test_page_summarizes_and_shows_the_request_energy(page_url: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    screenshot = os.environ.get("GREENTUNE_UI_SCREENSHOT")
    with tempfile.TemporaryDirectory(prefix="greentune-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.set_page_load_timeout(60)
            driver.get(f"{page_url}/ui/")
            wait = WebDriverWait(driver, 60)
            box = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#gt-input textarea"))
            box.send_keys("energy per request is measured here")
            driver.find_element(By.CSS_SELECTOR, "#gt-submit").click()
            account = wait.until(
                lambda d: d.find_element(By.CSS_SELECTOR, "#gt-account textarea").get_attribute("value") or None
            )
            summary = driver.find_element(By.CSS_SELECTOR, "#gt-summary textarea").get_attribute("value")
            if screenshot:
                driver.save_screenshot(str(Path(screenshot)))
        finally:
            driver.quit()
    assert summary == "energy per"
    # the one text of its batch carries the batch's 5 J; 5 J × 1.5 PUE × 400 g/kWh = 0.8333 mg
    assert account.startswith("energy 5.000 J · 0.8333 mgCO2eq · latency ")
    assert account.endswith(" ms · batch of 1 · measured")
    stats = httpx.get(f"{page_url}/stats").json()
    assert (stats["requests"], stats["active_energy_j"]) == (1, pytest.approx(5.0))
