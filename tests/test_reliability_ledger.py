"""The ledger under faults: concurrent writers on a new SQLite file, a corrupt or empty file, a killed run (LOST)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from greentune.errors import GreentuneError
from greentune.ledger import RunStatus, check_ledger, read_runs, write_run
from greentune.ledger.lost import STALE_AFTER_S, settle_lost
from ports import free_port
from test_ledger import make_record
from tiny_models import tiny_spec_dict, tiny_tracking_uri

TESTS = str(Path(__file__).parent)
GREENTUNE = [sys.executable, "-c", "from greentune.cli.app import main; main()"]

WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from greentune.ledger import write_run
from test_ledger import make_record
go = Path({go!r})
while not go.exists():
    time.sleep(0.01)
write_run(make_record(run_name="writer-{index}", experiment="concurrent"), tracking_uri={uri!r})
"""


def _start_together(scripts: list[str], go: Path) -> list[subprocess.CompletedProcess[str]]:
    """Start every script, let each import what it needs, then release them at once; wait for all."""
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for script in scripts
    ]
    time.sleep(1.0)
    go.write_text("go")
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def test_eight_writers_at_once_on_a_new_sqlite_ledger_all_land(tmp_path: Path) -> None:
    # the race the issue found: MLflow's schema set-up run by several processes on a file that does not exist yet
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    go = tmp_path / "go"
    scripts = [WRITER.format(tests=TESTS, go=str(go), index=index, uri=uri) for index in range(8)]
    results = _start_together(scripts, go)
    assert [result.returncode for result in results] == [0] * 8, [r.stderr[-600:] for r in results]
    records = read_runs(uri, experiment="concurrent")
    assert sorted(record.run_name for record in records) == [f"writer-{index}" for index in range(8)]
    assert {record.status for record in records} == {RunStatus.FINISHED}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # eight trainings on a busy 2-core machine
def test_eight_tiny_runs_at_once_on_a_new_ledger_are_all_recorded_and_readable(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path, experiment="eight")))
    processes = [
        subprocess.Popen(
            [*GREENTUNE, "run", str(spec), "--set", f"ledger.run_name=run-{index}", "--set", "train.threads=1"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(8)
    ]
    failures = [(process.returncode, process.communicate(timeout=1800)[1][-800:]) for process in processes]
    assert [process.returncode for process in processes] == [0] * 8, failures
    listed = subprocess.run(
        [*GREENTUNE, "runs", "--json", "--tracking-uri", tiny_tracking_uri(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert sorted(record["run_name"] for record in records) == [f"run-{index}" for index in range(8)]
    assert {record["status"] for record in records} == {"FINISHED"}
    report = subprocess.run(
        [*GREENTUNE, "report", "--format", "md", "--tracking-uri", tiny_tracking_uri(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.returncode == 0, report.stderr
    assert all(f"run-{index}" in report.stdout for index in range(8))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_concurrent_writers_through_an_mlflow_server_all_land(tmp_path: Path) -> None:
    # the path README recommends for heavy parallel use: a tracking server (SQLite behind it here, offline)
    import urllib.request

    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server"),
            *("--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}"),
            *("--artifacts-destination", str(tmp_path / "artifacts")),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "mlflow server did not start"
                time.sleep(1)
        go = tmp_path / "go"
        scripts = [WRITER.format(tests=TESTS, go=str(go), index=index, uri=uri) for index in range(4)]
        results = _start_together(scripts, go)
        assert [result.returncode for result in results] == [0] * 4, [r.stderr[-600:] for r in results]
        records = read_runs(uri, experiment="concurrent")
        assert sorted(record.run_name for record in records) == [f"writer-{index}" for index in range(4)]
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_a_corrupt_ledger_fails_before_any_model_loads(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "mlflow.db").write_bytes(b"this is not a database" * 100)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(tmp_path)))
    result = subprocess.run([*GREENTUNE, "run", str(spec)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot open or write the ledger at sqlite:///")
    assert "file is not a database" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (ledger / "runs").exists()  # no run folder: nothing was loaded or trained


def _set_up_killed_after_a_migration_adds_a_column(uri: str) -> None:
    """`check_ledger` on a new file, killed (as by power loss) right after a migration's ALTER TABLE, before the
    migration is recorded as done: the instant Ctrl-C or a kill hits most often in seconds of migrations."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def kill(connection: object, cursor: object, statement: str, *args: object) -> None:
        if "ADD COLUMN" in statement.upper():
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "after_cursor_execute", kill)
    check_ledger(uri)


def test_a_new_ledger_whose_set_up_is_killed_halfway_is_set_up_afresh_by_the_next_run(tmp_path: Path) -> None:
    # a half-migrated ledger was refused by every later run ("duplicate column name: deleted_time")
    uri = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    setting_up = multiprocessing.get_context("fork").Process(
        target=_set_up_killed_after_a_migration_adds_a_column, args=(uri,)
    )
    setting_up.start()
    setting_up.join()
    assert setting_up.exitcode == -signal.SIGKILL
    assert check_ledger(uri) == uri
    write_run(make_record(run_name="after", experiment="killed-set-up"), tracking_uri=uri)
    assert [record.run_name for record in read_runs(uri)] == ["after"]


def test_reading_an_empty_ledger_file_leaves_it_empty(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"")
    assert read_runs(f"sqlite:///{database}") == []
    assert database.stat().st_size == 0


def test_reading_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    database.write_bytes(b"garbage" * 1000)
    with pytest.raises(GreentuneError, match="is not a readable SQLite database"):
        read_runs(f"sqlite:///{database}")


def _running(**update: object) -> object:
    return make_record(status="RUNNING").model_copy(update=update)


def test_a_running_record_of_a_process_that_is_gone_reads_as_lost() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    record = _running(host=socket.gethostname(), pid=dead.pid)
    settled = settle_lost(record, heartbeat_unix_s=time.time())  # type: ignore[arg-type]
    assert settled.status == RunStatus.LOST
    assert settled.notes[-1].startswith(f"LOST: its process {dead.pid} on {socket.gethostname()} is gone")


def test_a_running_record_of_a_live_process_stays_running() -> None:
    record = _running(host=socket.gethostname(), pid=os.getpid())
    assert settle_lost(record, heartbeat_unix_s=None).status == RunStatus.RUNNING  # type: ignore[arg-type]


def test_a_run_elsewhere_is_lost_only_after_its_heartbeat_went_stale() -> None:
    record = _running(host="another-machine", pid=1)
    now = 1_800_000_000.0
    fresh = settle_lost(record, heartbeat_unix_s=now - STALE_AFTER_S + 1, now_unix_s=now)  # type: ignore[arg-type]
    stale = settle_lost(record, heartbeat_unix_s=now - STALE_AFTER_S - 1, now_unix_s=now)  # type: ignore[arg-type]
    assert (fresh.status, stale.status) == (RunStatus.RUNNING, RunStatus.LOST)


KILL_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tiny_models import run_tiny
run_tiny(Path({root!r}), experiment="sigkill", **{{"train.epochs": 500}})
"""


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_sigkilled_run_is_lost_with_the_energy_of_its_last_flush(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT.format(tests=TESTS, root=str(tmp_path))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    logs = tmp_path / "ledger" / "runs"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if any('"name":"epoch-2"' in path.read_text() for path in logs.glob("*/meter.jsonl")):
            break
        time.sleep(0.5)
    assert process.poll() is None, process.communicate()[1][-800:]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    (log_path,) = logs.glob("*/meter.jsonl")
    entries = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    start = next(entry for entry in entries if entry["type"] == "meter_start")
    last = [entry for entry in entries if entry["type"] in ("sample", "window_begin")][-1]
    expected_kwh = sum(last["energy_j"].values()) / 3.6e6

    listed = subprocess.run(
        [*GREENTUNE, "runs", "--json", "--tracking-uri", tiny_tracking_uri(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert listed.returncode == 0, listed.stderr
    (record,) = json.loads(listed.stdout)
    assert record["status"] == "LOST"
    assert record["energy_kwh"] == pytest.approx(expected_kwh, rel=1e-9) and expected_kwh > 0
    assert record["duration_s"] == pytest.approx(last["t_unix_s"] - start["t_unix_s"], rel=1e-9)
    assert record["emissions_gco2eq"] == pytest.approx(
        expected_kwh * record["pue"] * record["intensity_gco2eq_per_kwh"], rel=1e-6
    )
    assert "LOST: its process" in record["notes"][-1]
