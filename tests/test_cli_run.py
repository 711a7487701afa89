"""`greentune run`, `greentune runs` as a user calls them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from greentune.cli.app import app
from ports import free_port
from tiny_models import tiny_spec_dict, tiny_tracking_uri

GREENTUNE = str(Path(sys.executable).parent / "greentune")
runner = CliRunner()


def test_run_then_runs_lists_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    result = runner.invoke(
        app, ["run", str(spec), "--set", "strategies.freeze=embeddings", "--set", "ledger.run_name=cli-run"]
    )
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
    # one run, so its energy source heads the kWh column: measured only when every component was
    measured = all(component["source"] == "measured" for component in records[0]["components"])
    lines = [line.strip() for line in table.output.splitlines()]
    header = lines[lines.index(next(line for line in lines if "kWh" in line)) + 1]
    assert ("measured" if measured else "estimated") in header.split()


def test_runs_on_an_empty_ledger_says_where_it_looked_and_how_to_start(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runs", "--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"])
    assert result.exit_code == 0 and "greentune demo" in result.output and "empty.db" in result.output


def test_runs_in_a_deleted_folder_is_one_line(tmp_path: Path) -> None:
    # the default ledger, ./greentune-runs/mlflow.db, has no absolute path there: it was a FileNotFoundError traceback
    gone = tmp_path / "gone"
    gone.mkdir()
    unset = ("GREENTUNE_TRACKING_URI", "MLFLOW_TRACKING_URI")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    script = f"cd {gone} && rmdir {gone} && exec {GREENTUNE} runs"
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: the current folder no longer exists (deleted?); cd to an existing folder\n"


def test_run_reports_what_early_stopping_saved(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli-es")))
    result = runner.invoke(
        app,
        [
            "run",
            str(spec),
            "--set",
            "train.epochs=3",
            "--set",
            "strategies.early_stopping.enabled=true",
            "--set",
            "strategies.early_stopping.threshold=1000",
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "early stopping ran 2 of 3 epochs" in result.output


def _greentune(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import sys

    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_carbon_aware_options_without_carbon_aware_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    result = _greentune("run", str(spec), "--window", "3h", "--region", "DE", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "error: --window, --region only apply to a carbon-aware run; add --carbon-aware fs|pr"
    )
    assert not (tmp_path / "greentune-runs").exists()


def test_ctrl_c_while_a_carbon_aware_run_waits_for_its_start_says_interrupted(tmp_path: Path) -> None:
    import signal
    import sys
    from datetime import UTC, datetime, timedelta

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = ["timestamp,intensity_gco2eq_per_kwh,kind,source"]
    rows += [f"{hour + timedelta(hours=h)},{50 if h == 3 else 500},average,hand-made" for h in range(30)]
    (tmp_path / "series.csv").write_text("\n".join(rows) + "\n")  # the cleanest hour is 3 h away
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    plan = ["--carbon-aware", "fs", "--source", "csv:series.csv", "--region", "DE", "--expected-duration", "1h"]
    waiting = subprocess.Popen(
        [sys.executable, "-c", "from greentune.cli.app import main; main()", "run", str(spec), *plan],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert waiting.stdout is not None and waiting.stdout.readline().startswith("Flexible Start on hand-made")
    waiting.send_signal(signal.SIGINT)
    _, stderr = waiting.communicate(timeout=120)
    assert (waiting.returncode, stderr) == (130, "interrupted\n")  # it was silent


def test_ctrl_c_while_the_cli_is_still_importing_says_interrupted(tmp_path: Path) -> None:
    # a Ctrl-C in the first ~0.3 s (while Typer and Rich import) printed a traceback instead of `interrupted`
    code = (
        "import sys\n"
        "class CtrlC:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "sys.argv = ['greentune', 'runs']\n"
        "from greentune.cli.app import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "interrupted\n")


def test_demo_refuses_an_unwritable_report_path_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    result = _greentune("demo", "--report", str(blocker / "report.html"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot create report folder") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "greentune-runs").exists()


def test_demo_refuses_a_folder_as_report_path_before_training(tmp_path: Path) -> None:
    result = _greentune("demo", "--report", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.startswith(f"error: --report {tmp_path} is a folder")
        and len(result.stderr.strip().splitlines()) == 1
    )
    assert not (tmp_path / "greentune-runs").exists()


def test_demo_refuses_an_unknown_location_before_its_banner(tmp_path: Path) -> None:
    result = _greentune("demo", "--location", "atlantis", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")  # the banner promised runs that never started
    assert result.stderr.startswith("error: unknown location 'atlantis'") and len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # not even the report's folder


def test_bad_spec_and_plan_input_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli")))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    for args, message in [
        ([str(binary)], "binary.yaml is not valid YAML"),
        ([str(spec), "--set", "train.epochs=["], "train.epochs: Input should be a valid number"),
        ([str(spec), "--set", "train.learning_rate=.inf"], "train.learning_rate: Input should be a finite number"),
        (
            [str(spec), "--carbon-aware", "later"],
            "'later' is not one of 'fs', 'pr'",
        ),  # not: give --expected-duration
        (
            [
                str(spec),
                "--carbon-aware",
                "fs",
                "--clock",
                "simulated",
                "--at",
                "9999-12-31T23:00",
                "--expected-duration",
                "2h",
            ],
            "past the year 9999",
        ),
        ([str(spec), "--set", "site.location=atlantis"], "unknown location 'atlantis'"),
    ]:
        result = _greentune("run", *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "greentune-runs").exists()
    assert not (tmp_path / "ledger").exists()  # the spec's ledger: not created, let alone opened


def test_a_diverged_run_stays_readable_and_a_corrupt_record_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="cli-nan")))
    result = runner.invoke(
        app, ["run", str(spec), "--set", "train.learning_rate=1e30", "--set", "ledger.run_name=diverged"]
    )
    assert result.exit_code == 0, result.output

    listed = runner.invoke(app, ["runs", "--json", "--tracking-uri", tiny_tracking_uri(tmp_path)])
    assert listed.exit_code == 0, listed.output
    (record,) = json.loads(listed.output)
    assert record["run_name"] == "diverged" and record["eval_history"][0]["eval_loss"] is None  # NaN: JSON null

    (stored,) = (tmp_path / "ledger" / "artifacts").rglob("run_record.json")  # the ledger's copy, not the run folder's
    stored.write_text("{")
    broken = _greentune("runs", "--tracking-uri", tiny_tracking_uri(tmp_path), cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.startswith(f"error: run {record['run_id']} in the ledger has an unreadable run_record.json")
    assert len(broken.stderr.strip().splitlines()) == 1


def test_an_unreachable_ledger_server_fails_in_one_line_without_minutes_of_retries(tmp_path: Path) -> None:
    port = free_port()  # a port nobody listens on
    result = _greentune("runs", "--tracking-uri", f"http://127.0.0.1:{port}", cwd=tmp_path, timeout=90)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot open or write the ledger at http://127.0.0.1:{port}")
    assert len(result.stderr.strip().splitlines()) == 1
