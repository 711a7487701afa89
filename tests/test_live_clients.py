"""Electricity Maps and WattTime clients against recorded-shape JSON served on 127.0.0.1."""

import base64
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from greentune.carbon.electricitymaps import ElectricityMaps
from greentune.carbon.watttime import WattTime, lbs_per_mwh_to_g_per_kwh
from greentune.errors import GreentuneError
from greentune.schedule import Job, flexible_start, pause_resume

FIXTURES = Path(__file__).parent / "fixtures"
EM_KEY, WT_USER, WT_PASSWORD = "em-test-key", "alice", "s3cret"
ROUTES = {
    "/v3/carbon-intensity/latest": "electricitymaps_latest_DE.json",
    "/v3/carbon-intensity/history": "electricitymaps_history_DE.json",
    "/v3/carbon-intensity/past-range": "electricitymaps_past_range_DE.json",
    "/v3/carbon-intensity/forecast": "electricitymaps_forecast_DE.json",
    "/login": "watttime_login.json",
    "/v3/forecast": "watttime_forecast_CAISO_NORTH.json",
    "/v3/historical": "watttime_historical_CAISO_NORTH.json",
    "/v3/signal-index": "watttime_signal_index_CAISO_NORTH.json",
}


class Recorded(BaseHTTPRequestHandler):
    """Serves the fixtures; checks each API's authentication like the real services do."""

    requests: ClassVar[list[tuple[str, dict]]] = []
    overrides: ClassVar[dict[str, bytes]] = {}
    issued_tokens: ClassVar[list[str]] = []
    expired_tokens: ClassVar[set[str]] = set()

    def do_GET(self):
        url = urlsplit(self.path)
        Recorded.requests.append((url.path, parse_qs(url.query)))
        basic = "Basic " + base64.b64encode(f"{WT_USER}:{WT_PASSWORD}".encode()).decode()
        if url.path.startswith("/v3/carbon-intensity/"):
            allowed = self.headers.get("auth-token") == EM_KEY
        elif url.path == "/login":
            allowed = self.headers.get("Authorization") == basic
        else:
            sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
            allowed = sent in Recorded.issued_tokens and sent not in Recorded.expired_tokens
        if url.path not in ROUTES or not allowed:
            self.send_response(404 if url.path not in ROUTES else 401)
            self.end_headers()
            self.wfile.write(b'{"error": "no"}')
            return
        body = Recorded.overrides.get(url.path) or (FIXTURES / ROUTES[url.path]).read_bytes()
        if url.path == "/login":  # a fresh token per login, as the real service issues
            token = f"{json.loads(body)['token']}.{len(Recorded.issued_tokens)}"
            Recorded.issued_tokens.append(token)
            body = json.dumps({"token": token}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENTUNE_CACHE_DIR", str(tmp_path / "cache"))
    Recorded.requests.clear()
    Recorded.overrides.clear()
    Recorded.issued_tokens.clear()
    Recorded.expired_tokens.clear()


def test_electricity_maps_latest_history_and_forecast(server):
    client = ElectricityMaps(api_key=EM_KEY, base_url=f"{server}/v3")
    latest = client.latest("DE")
    assert (latest.intensity_gco2eq_per_kwh, latest.time) == (412.0, datetime(2026, 1, 15, 11, tzinfo=UTC))
    history = client.history("DE")
    forecast = client.forecast("DE")
    assert len(history.values_gco2eq_per_kwh) == 24 and history.step_s == 3600
    assert forecast.slot_start(0) == datetime(2026, 1, 15, 12, tzinfo=UTC) and len(forecast.values_gco2eq_per_kwh) == 24
    assert forecast.kind == "average" and "Electricity Maps" in forecast.source and "lifecycle" in forecast.source
    assert ("/v3/carbon-intensity/forecast", {"zone": ["DE"]}) in Recorded.requests


def test_electricity_maps_past_range_sends_the_span_in_utc(server):
    client = ElectricityMaps(api_key=EM_KEY, base_url=f"{server}/v3")
    start = datetime(2026, 1, 13, 1, tzinfo=datetime.now().astimezone().tzinfo)
    series = client.past_range("DE", start, start + timedelta(days=2))
    path, query = Recorded.requests[-1]
    assert path == "/v3/carbon-intensity/past-range" and query["start"][0].endswith("Z")
    assert len(series.values_gco2eq_per_kwh) == 48


def test_responses_are_cached_on_disk(server, tmp_path):
    client = ElectricityMaps(api_key=EM_KEY, base_url=f"{server}/v3")
    first = client.forecast("DE")
    again = ElectricityMaps(api_key=EM_KEY, base_url=f"{server}/v3").forecast("DE")
    assert len(Recorded.requests) == 1
    assert (first.values_gco2eq_per_kwh == again.values_gco2eq_per_kwh).all()
    assert list((tmp_path / "cache" / "http").glob("*.json"))
    assert EM_KEY not in "".join(p.read_text() for p in (tmp_path / "cache" / "http").glob("*.json"))


def test_electricity_maps_needs_a_key_and_reports_refusal(server, monkeypatch):
    monkeypatch.delenv("ELECTRICITYMAPS_API_KEY", raising=False)
    with pytest.raises(GreentuneError, match="ELECTRICITYMAPS_API_KEY"):
        ElectricityMaps(base_url=f"{server}/v3")
    with pytest.raises(GreentuneError, match="HTTP 401"):
        ElectricityMaps(api_key="wrong", base_url=f"{server}/v3").latest("DE")


def test_watttime_logs_in_and_converts_pounds_per_mwh(server):
    client = WattTime(WT_USER, WT_PASSWORD, base_url=server)
    forecast = client.forecast("CAISO_NORTH")
    raw = json.loads((FIXTURES / "watttime_forecast_CAISO_NORTH.json").read_text())
    assert [path for path, _ in Recorded.requests] == ["/login", "/v3/forecast"]
    assert forecast.step_s == 300 and forecast.kind == "marginal"
    assert forecast.values_gco2eq_per_kwh[0] == pytest.approx(raw["data"][0]["value"] * 0.45359237)
    assert lbs_per_mwh_to_g_per_kwh(1000.0) == pytest.approx(453.59237)
    assert "lbs_co2_per_mwh" in forecast.source


def test_watttime_historical_and_signal_index(server):
    client = WattTime(WT_USER, WT_PASSWORD, base_url=server)
    start = datetime(2026, 1, 14, 12, tzinfo=UTC)
    history = client.historical("CAISO_NORTH", start, start + timedelta(hours=12))
    assert len(history.values_gco2eq_per_kwh) == 144
    assert Recorded.requests[-1][1]["start"] == [start.isoformat()]
    index = client.signal_index("CAISO_NORTH")
    assert index.percentile == 59.0
    assert sum(path == "/login" for path, _ in Recorded.requests) == 1


def test_watttime_logs_in_again_when_the_token_expires(server):
    client = WattTime(WT_USER, WT_PASSWORD, base_url=server)
    client.signal_index("CAISO_NORTH")
    Recorded.expired_tokens.add(Recorded.issued_tokens[0])  # 30 minutes later
    forecast = client.forecast("CAISO_NORTH")
    assert [path for path, _ in Recorded.requests] == [
        "/login",
        "/v3/signal-index",
        "/v3/forecast",
        "/login",
        "/v3/forecast",
    ]
    assert len(forecast.values_gco2eq_per_kwh) == 288


def test_watttime_bad_credentials_and_missing_account(server, monkeypatch):
    with pytest.raises(GreentuneError, match="login failed for alice"):
        WattTime(WT_USER, "wrong", base_url=server).forecast("CAISO_NORTH")
    monkeypatch.delenv("WATTTIME_USERNAME", raising=False)
    with pytest.raises(GreentuneError, match="WATTTIME_USERNAME"):
        WattTime(base_url=server)


def test_plans_run_on_a_live_forecast(server):
    forecast = WattTime(WT_USER, WT_PASSWORD, base_url=server).forecast("CAISO_NORTH")
    job = Job(start=forecast.slot_start(0), duration_s=2 * 3600, window_s=6 * 3600, power_w=500.0)
    fs, pr = flexible_start(forecast, job), pause_resume(forecast, job)
    assert 0 <= fs.savings_pct <= pr.savings_pct
    assert fs.kind == pr.kind == "marginal" and "WattTime" in fs.source


def test_unreachable_service_is_a_clear_error(monkeypatch):
    with pytest.raises(GreentuneError, match="could not reach 127.0.0.1:9"):
        ElectricityMaps(api_key=EM_KEY, base_url="http://127.0.0.1:9/v3").latest("DE")


def test_schedule_command_plans_from_a_live_forecast(server, tmp_path):
    recorded = json.loads((FIXTURES / "electricitymaps_forecast_DE.json").read_text())
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for offset, point in enumerate(recorded["forecast"]):  # the recording, moved to start this hour
        point["datetime"] = (hour + timedelta(hours=offset)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    Recorded.overrides["/v3/carbon-intensity/forecast"] = json.dumps(recorded).encode()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ELECTRICITYMAPS_API_KEY": EM_KEY,
        "GREENTUNE_ELECTRICITYMAPS_URL": f"{server}/v3",
        "GREENTUNE_CACHE_DIR": str(tmp_path / "cache"),
    }
    greentune = str(Path(sys.executable).with_name("greentune"))
    args = [
        greentune,
        "schedule",
        "--region",
        "DE",
        "--source",
        "electricitymaps",
        "--duration",
        "2h",
        "--window",
        "6h",
    ]
    fs = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=120)
    pr = subprocess.run([*args, "--mode", "pr", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert fs.returncode == 0 and pr.returncode == 0, fs.stderr + pr.stderr
    fs_plan, pr_plan = json.loads(fs.stdout), json.loads(pr.stdout)
    assert "Electricity Maps" in fs_plan["source"] and fs_plan["start"] >= hour.isoformat()
    assert 0 <= fs_plan["savings_pct"] <= pr_plan["savings_pct"]
    assert sum(path == "/v3/carbon-intensity/forecast" for path, _ in Recorded.requests) == 1  # second run: cache
