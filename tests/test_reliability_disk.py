"""A disk that fills up during `measure` and during `run`, a run folder gone read-only before `ledger sync`:
one line, the right exit code, nothing lost, nothing written twice.

Each test mounts a small tmpfs or a read-only bind mount (root only; skipped with the reason elsewhere)
and fills it from inside the measured command or while the run trains.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from greentune.ledger import RunKind, mark_pending, read_runs, reserve_record, save_record, sync_pending, write_run
from hand_records import hand_record
from tiny_models import tiny_spec_dict, tiny_tracking_uri

GREENTUNE = [sys.executable, "-c", "from greentune.cli.app import main; main()"]
FILL = """
import sys
with open(sys.argv[1], "wb", buffering=0) as file:
    try:
        while True:
            file.write(b"x" * 65536)
    except OSError:
        pass
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` read-only while the block runs (a read-only bind mount: root only, skipped elsewhere)."""
    for options in (["--bind"], ["-o", "remount,ro,bind"]):
        mounted = subprocess.run(["mount", *options, str(folder), str(folder)], capture_output=True)
        if mounted.returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)
            pytest.skip(f"cannot bind-mount a folder read-only here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _fill(path: Path) -> None:
    subprocess.run([sys.executable, "-c", FILL, str(path), "0"], check=True)


def test_measure_on_a_disk_that_fills_keeps_the_childs_exit_code(small_disk: Path, tmp_path: Path) -> None:
    fill = tmp_path / "fill.py"
    fill.write_text(FILL)
    out = small_disk / "out"
    result = subprocess.run(
        [
            *GREENTUNE,
            "measure",
            "--json",
            "--output",
            str(out),
            "--",
            sys.executable,
            str(fill),
            str(small_disk / "filler"),
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)  # the figures, from memory
    assert summary["exit_code"] == 3 and summary["csv_path"] is None and summary["duration_s"] > 0
    (warning,) = result.stderr.strip().splitlines()
    assert warning.startswith("warning: not written: ") and "emissions.csv (No space left on device)" in warning
    assert warning.endswith("the figures below are from memory")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_run_whose_disk_fills_keeps_its_record_and_syncs_it_later(small_disk: Path, tmp_path: Path) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec_dict(small_disk, experiment="full")))
    uri = tiny_tracking_uri(small_disk)
    process = subprocess.Popen(
        [*GREENTUNE, "run", str(spec), "--set", "ledger.run_name=full-disk"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = small_disk / "ledger" / "runs"
    deadline = time.monotonic() + 600
    while not any(runs.glob("*/meter.jsonl")):  # the RUNNING record is in the ledger and the run folder reserved
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.2)
    _fill(small_disk / "filler")
    stdout, stderr = process.communicate(timeout=900)

    assert process.returncode == 2, stdout + stderr
    (line,) = stderr.strip().splitlines()
    assert line.startswith("error: run full-disk ended (FINISHED, ") and "but the ledger write failed" in line
    (folder,) = runs.iterdir()
    assert f"its record is kept in {folder / 'run_record.json'}; run `greentune ledger sync`" in line
    assert (folder / "PENDING_SYNC").is_file()
    kept = json.loads((folder / "run_record.json").read_text())
    assert kept["status"] == "FINISHED" and set(kept["rouge"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}

    listed = subprocess.run([*GREENTUNE, "runs", "--json", "--tracking-uri", uri], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "1 finished run(s) are not in the ledger yet" in listed.stderr
    (shown,) = json.loads(listed.stdout)
    assert shown["status"] == "FINISHED" and shown["notes"][-1].startswith("kept in its run folder")

    (small_disk / "filler").unlink()  # space returns
    synced = subprocess.run([*GREENTUNE, "ledger", "sync", "--tracking-uri", uri], capture_output=True, text=True)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert synced.stdout.strip().splitlines()[-1] == "1 synced, 0 left"
    assert not (folder / "PENDING_SYNC").exists()
    listed = subprocess.run([*GREENTUNE, "runs", "--json", "--tracking-uri", uri], capture_output=True, text=True)
    (record,) = json.loads(listed.stdout)
    assert listed.stderr == "" and record["status"] == "FINISHED"
    assert record["rouge"] == kept["rouge"] and record["energy_kwh"] == kept["energy_kwh"]


def test_a_read_only_run_folder_is_not_synced_until_it_can_be_marked(tmp_path: Path) -> None:
    # it was synced, then marking it failed (a traceback), and the next sync wrote the same run a second time
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folder = tmp_path / "runs" / "20261105-kept-1"
    folder.mkdir(parents=True)
    record = hand_record("kept", RunKind.TRAIN, "FINISHED", "2026-11-05T10:00:00+00:00", 0.002, 0.8)
    reserve_record(record, folder)
    save_record(record, folder)
    mark_pending(folder, "No space left on device")
    sync = [*GREENTUNE, "ledger", "sync", "--tracking-uri", uri]

    with read_only(folder):
        refused = subprocess.run(sync, capture_output=True, text=True, timeout=300)
    assert (refused.returncode, refused.stderr) == (1, ""), refused.stderr
    assert refused.stdout.splitlines() == [
        f"not synced {folder}: the folder is not writable (read-only?), so it could not be marked synced; "
        "nothing was written to the ledger: make it writable and sync again",
        "0 synced, 1 left",
    ]
    assert read_runs(uri) == [] and (folder / "PENDING_SYNC").is_file()

    synced = subprocess.run(sync, capture_output=True, text=True, timeout=300)
    again = subprocess.run(sync, capture_output=True, text=True, timeout=300)
    assert synced.stdout.splitlines()[-1] == "1 synced, 0 left", synced.stdout + synced.stderr
    assert again.stdout.startswith("nothing to sync") and not (folder / "PENDING_SYNC").exists()
    assert [(r.run_name, r.status, r.energy_kwh) for r in read_runs(uri)] == [("kept", "FINISHED", 0.002)]


def test_a_folder_where_the_marker_should_be_is_refused_before_the_ledger_is_written(tmp_path: Path) -> None:
    # the record was written to the ledger, then removing the "marker" failed with a traceback: the next sync
    # would have written the same run again
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    folder = tmp_path / "runs" / "20261105-kept-1"
    folder.mkdir(parents=True)
    record = hand_record("kept", RunKind.TRAIN, "FINISHED", "2026-11-05T10:00:00+00:00", 0.002, 0.8)
    save_record(record, folder)
    (folder / "PENDING_SYNC").mkdir()

    refused = subprocess.run(
        [*GREENTUNE, "ledger", "sync", "--tracking-uri", uri], capture_output=True, text=True, timeout=300
    )
    assert (refused.returncode, refused.stderr) == (1, ""), refused.stderr
    assert refused.stdout.splitlines() == [
        f"not synced {folder}: PENDING_SYNC there is not a file greentune wrote, so it could not be removed once "
        "synced; nothing was written to the ledger: replace it with an empty file and sync again",
        "0 synced, 1 left",
    ]
    assert read_runs(uri) == []

    (folder / "PENDING_SYNC").rmdir()
    (folder / "PENDING_SYNC").write_text("")
    assert [stored.run_name for stored in sync_pending(uri).synced] == ["kept"]
    assert [(r.run_name, r.energy_kwh) for r in read_runs(uri)] == [("kept", 0.002)]


def test_a_ledger_on_a_read_only_mount_can_still_be_read(tmp_path: Path) -> None:
    # reading took the lock that guards the ledger's set-up, a file beside it: every reading command failed there
    archive = tmp_path / "archive"
    uri = f"sqlite:///{archive / 'mlflow.db'}"
    write_run(hand_record("kept", RunKind.TRAIN, "FINISHED", "2026-11-05T10:00:00+00:00", 0.002, 0.8), tracking_uri=uri)
    with read_only(archive):
        listed = subprocess.run([*GREENTUNE, "runs", "--json", "--tracking-uri", uri], capture_output=True, text=True)
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [(r["run_name"], r["status"], r["energy_kwh"]) for r in json.loads(listed.stdout)] == [
        ("kept", "FINISHED", 0.002)
    ]
