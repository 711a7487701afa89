"""Open a local HTML file in Debian's headless Chromium and report what a reader would see.

Selenium drives /usr/bin/chromium through /usr/bin/chromedriver given as the
Service path, so Selenium Manager downloads nothing; every background network
feature of Chromium is switched off, so the page must work offline.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)

# Counts, per figure, the SVG pieces plotly drew: a rendered plot has a sized
# main-svg and at least one data trace (points, bars or lines) inside it.
PLOTS_SCRIPT = """
return Array.from(document.querySelectorAll('figure.plot')).map(function (figure) {
  var svg = figure.querySelector('svg.main-svg');
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {
    name: figure.getAttribute('data-plot'),
    width: box.width,
    height: box.height,
    figure_width: figure.getBoundingClientRect().width,
    traces: figure.querySelectorAll('g.trace, g.point, path.point').length
  };
});
"""


@dataclass(frozen=True)
class PageView:
    """What the page showed: console errors, one entry per figure, and the rows of each table by id."""

    console_errors: list[str]
    plots: list[dict]
    table_rows: dict[str, int]
    title: str


def chromium_available() -> bool:
    """True when Debian's chromium is installed (chromedriver comes with it as chromium-driver)."""
    return CHROMIUM.exists()


def open_page(path: Path, table_ids: tuple[str, ...] = ("runs",), screenshot: Path | None = None) -> PageView:
    """Load `path` in headless Chromium, wait for plotly to draw, and collect the view.

    With `screenshot`, also save a PNG of the whole page there.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    with tempfile.TemporaryDirectory(prefix="greentune-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.set_page_load_timeout(60)
            driver.get(path.resolve().as_uri())
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
            WebDriverWait(driver, 30).until(
                lambda d: d.execute_script(
                    "return Array.from(document.querySelectorAll('figure.plot'))"
                    ".every(function (f) { return f.querySelector('svg.main-svg'); })"
                )
            )
            plots = driver.execute_script(PLOTS_SCRIPT)
            rows = {
                table_id: driver.execute_script(
                    f"var t = document.getElementById('{table_id}'); return t ? t.tBodies[0].rows.length : -1;"
                )
                for table_id in table_ids
            }
            if screenshot is not None:
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(1400, height)
                driver.save_screenshot(str(screenshot))
            errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            return PageView(console_errors=errors, plots=plots, table_rows=rows, title=driver.title)
        finally:
            driver.quit()
