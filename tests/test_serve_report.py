"""The session record built from a serving session's totals, a ledger that could not keep it, the report's serving section."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import greentune
from greentune.carbon import resolve_site
from greentune.infer import GenerationSettings
from greentune.ledger import RunKind, RunRecord
from greentune.report.build import build_report
from greentune.report.markdown import render_markdown
from greentune.report.write import write_report
from greentune.serve import BatcherConfig, Snapshot
from greentune.serve.engine import EngineInfo
from greentune.serve.model import ServedModel
from greentune.serve.session import SessionRequest, serving_metrics, session_record
from greentune.serve.stats import RequestLog, build_stats
from ports import free_port

SITE = resolve_site(None, intensity_gco2eq_per_kwh=400.0, pue=1.5)
TOTAL = Snapshot(
    requests=4,
    batches=2,
    input_tokens=40,
    output_tokens=20,
    active_energy_j={"cpu": 5400.0, "ram": 1800.0},
    idle_energy_j={"cpu": 3000.0, "ram": 600.0},
    component_sources={"cpu": "measured", "ram": "estimated"},
    active_duration_s=30.0,
    idle_duration_s=90.0,
    session_duration_s=120.0,
    active_gco2eq=1.2,
    idle_gco2eq=0.6,
)


def serve_record() -> RunRecord:
    request = SessionRequest(
        info=EngineInfo("ft-run", "eager", "cpu", GenerationSettings(), replicas=1),
        served=ServedModel(source="/runs/ft/model", label="ft-run", run_name="ft-run"),
        site=SITE,
        config=BatcherConfig(max_batch=8),
        started=datetime(2026, 12, 1, tzinfo=UTC),
        experiment="serve",
        run_name="session-1",
    )
    return session_record(request, TOTAL, build_stats(TOTAL, RequestLog()))


def test_session_record_holds_the_whole_session_with_active_and_idle_apart() -> None:
    record = serve_record()
    assert (record.kind, record.model_name, record.status) == (RunKind.SERVE, "ft-run", "FINISHED")
    assert record.energy_kwh == pytest.approx(10800.0 / 3.6e6)  # 0.003 kWh: active 7200 J + idle 3600 J
    assert record.emissions_gco2eq == pytest.approx(0.003 * 1.5 * 400.0)  # 1.8 g
    assert {c.name: c.energy_kwh for c in record.components} == pytest.approx(
        {"cpu": 8400 / 3.6e6, "ram": 2400 / 3.6e6}
    )
    assert [(p.name, p.duration_s) for p in record.phases] == [("active", 30.0), ("idle", 90.0)]
    assert record.energy_source == "estimated"  # RAM was estimated
    serving = record.serving
    assert serving is not None
    assert (serving.requests, serving.input_tokens, serving.output_tokens) == (4, 40, 20)
    assert serving.active_energy_kwh == pytest.approx(0.002)
    assert serving.wh_per_1000_requests == pytest.approx(7200 / 3600 / 4 * 1000)  # 500 Wh
    assert serving.gco2eq_per_1000_requests == pytest.approx(300.0)
    assert record.samples_per_s == pytest.approx(4 / 120)
    assert serving_metrics(record)["serving.requests"] == 4.0


def test_report_shows_when_serving_passes_the_fine_tuning() -> None:
    serve = serve_record().model_copy(update={"run_id": "s1"})
    training = serve.model_copy(
        update={"run_id": "t1", "run_name": "ft-run", "kind": RunKind.TRAIN, "serving": None, "emissions_gco2eq": 10.0}
    )
    report = build_report([training, serve])
    (row,) = report.serving
    assert (row.training_run, row.training_gco2eq) == ("ft-run", 10.0)
    assert row.breakeven_requests == 23  # 10 g ÷ (1.8 g / 4 requests) = 22.2 → the 23rd request passes it
    markdown = render_markdown(report)
    assert "## Serving" in markdown
    assert (
        "| session-1 | ft-run (eager, 1×) | 4 | 500 | 300 | 0.001 | — | — | ft-run (10 gCO2eq) | 23 requests |"
        in markdown
    )


def test_html_report_has_the_serving_table(tmp_path: Path) -> None:
    serve = serve_record().model_copy(update={"run_id": "s1"})
    training = serve.model_copy(
        update={"run_id": "t1", "run_name": "ft-run", "kind": RunKind.TRAIN, "serving": None, "emissions_gco2eq": 10.0}
    )
    html = write_report([training, serve], tmp_path / "report.html").read_text()
    table = html[html.index('<table id="serving">') : html.index("</table>", html.index('<table id="serving">'))]
    assert table.count("<tr>") == 2  # the header and session-1
    assert "session-1" in table and "23 requests" in table and "ft-run (10.0 gCO2eq)" in table


def test_an_unknown_scope_is_refused_by_the_option_itself(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", "serve", "minilm-bert2bert"]
    result = subprocess.run([*command, "--scope", "node"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("error: Invalid value for '--scope': Value error, 'node' is not one of 'machine'")
    assert list(tmp_path.iterdir()) == []


def test_a_broken_ledger_is_refused_before_serving_not_when_the_session_ends(tmp_path: Path) -> None:
    # the session's record is written at shutdown: a ledger that cannot take it would lose hours of serving
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "mlflow.db").write_bytes(b"this is not a database" * 100)
    uri = f"sqlite:///{ledger / 'mlflow.db'}"
    port = free_port()
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", "serve", "minilm-bert2bert"]
    result = subprocess.run(
        [*command, "--port", str(port), "--tracking-uri", uri],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # before the fix: it loaded the model and served until killed
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(greentune.__file__).parents[1])},
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: cannot open or write the ledger at {uri} (DatabaseError: file is not a database); "
        "give a working tracking URI like sqlite:///path/mlflow.db or http://host:5000"
    )
    assert not (ledger / "serve").exists()


def test_a_model_that_does_not_load_leaves_no_session_folder(tmp_path: Path) -> None:
    model = tmp_path / "not-a-model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # a folder that passes for a model until transformers reads it
    uri = f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}"
    port = free_port()
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", "serve", str(model)]
    result = subprocess.run(
        [*command, "--port", str(port), "--tracking-uri", uri],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(Path(greentune.__file__).parents[1])},
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr
    assert list((tmp_path / "ledger" / "serve").iterdir()) == []  # before: a folder holding only the marker
