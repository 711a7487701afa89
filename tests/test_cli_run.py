"""`greentune run`, `greentune runs` as a user calls them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tiny_models import tiny_spec_dict, tiny_tracking_uri
from typer.testing import CliRunner

from greentune.cli.app import app

runner = CliRunner()


def test_run_then_runs_lists_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    result = runner.invoke(app, ["run", str(spec), "--set", "strategies.freeze=embeddings", "--set", "ledger.run_name=cli-run"])
    assert result.exit_code == 0, result.output
    assert "cli-run" in result.output and "recorded in the ledger" in result.output

    listed = runner.invoke(app, ["runs", "--json", "--tracking-uri", tiny_tracking_uri(tmp_path)])
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.output)
    assert [record["run_name"] for record in records] == ["cli-run"]
    assert records[0]["strategies"]["freeze"] == "embeddings" and records[0]["status"] == "FINISHED"

    monkeypatch.setenv("GREENTUNE_TRACKING_URI", tiny_tracking_uri(tmp_path))
    table = runner.invoke(app, ["runs", "--experiment", "cli"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "cli-run" in table.output and "ROUGE" in table.output
    assert "estimated" in table.output or "measured" in table.output


def test_runs_on_an_empty_ledger_says_how_to_start(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runs", "--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert result.exit_code == 0 and "greentune demo" in result.output


def test_run_reports_what_early_stopping_saved(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli-es")))
    result = runner.invoke(app, ["run", str(spec), "--set", "train.epochs=3", "--set", "strategies.early_stopping.enabled=true",
                                 "--set", "strategies.early_stopping.threshold=1000"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "early stopping ran 2 of 3 epochs" in result.output


def _greentune(*args: str, cwd: Path) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys

    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_carbon_aware_options_without_carbon_aware_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    result = _greentune("run", str(spec), "--window", "3h", "--region", "DE", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --window, --region only apply to a carbon-aware run; add --carbon-aware fs|pr"
    assert not (tmp_path / "greentune-runs").exists()


def test_demo_refuses_an_unwritable_report_path_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = _greentune("demo", "--report", str(blocker / "report.html"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot create report folder") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "greentune-runs").exists()
