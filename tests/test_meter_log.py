"""The JSONL log: read back after SIGKILL and SIGTERM, truncated lines, and the SIGTERM handler chain."""

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.meter import Meter, read_log


def start_child(log_path: Path, before_meter: str = "") -> subprocess.Popen[str]:
    """A Python process that runs a Meter with a window open and then busy-loops."""
    script = textwrap.dedent(
        f"""
        import signal, sys, time
        from greentune.meter import Meter
        {before_meter}
        meter = Meter(interval_ms=20, log_path={str(log_path)!r}, flush_interval_s=0.2, log_sample_interval_s=0.05)
        meter.start()
        with meter.window("warmup"):
            time.sleep(0.05)
        meter.begin_window("train")
        print("ready", flush=True)
        while True:
            sum(range(10_000))
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def wait_for(log_path: Path, predicate, timeout_s: float = 20.0) -> list[dict]:
    """Poll the log until predicate(records) holds (the writer flushes on its own schedule)."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = read_log(log_path) if log_path.exists() else []
        if predicate(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def samples_after_train_began(records: list[dict]) -> list[dict]:
    begins = [r for r in records if r["type"] == "window_begin" and r["name"] == "train"]
    return [r for r in records if begins and r["type"] == "sample" and r["t_unix_s"] > begins[0]["t_unix_s"]]


def test_sigkilled_meter_leaves_a_readable_log(tmp_path: Path) -> None:
    log_path = tmp_path / "meter.jsonl"
    child = start_child(log_path)
    try:
        wait_for(log_path, lambda records: len(samples_after_train_began(records)) >= 2)
    finally:
        child.kill()
        child.wait(timeout=10)
    records = read_log(log_path)
    types = [r["type"] for r in records]
    assert types[0] == "meter_start" and "meter_stop" not in types
    warmup = next(r for r in records if r["type"] == "window" and r["name"] == "warmup")
    assert warmup["duration_s"] > 0 and {c["source"] for c in warmup["components"]} <= {"measured", "estimated"}
    # the killed window's energy so far can be rebuilt from its begin counters and the last sample
    begin = next(r for r in records if r["type"] == "window_begin" and r["name"] == "train")
    last = samples_after_train_began(records)[-1]
    assert set(last["energy_j"]) == set(begin["energy_j"])
    assert sum(last["energy_j"].values()) > sum(begin["energy_j"].values())


def test_sigterm_runs_the_previous_handler_after_logging_partial_windows(tmp_path: Path) -> None:
    log_path = tmp_path / "meter.jsonl"
    marker = tmp_path / "previous-handler-ran"
    previous = f"signal.signal(signal.SIGTERM, lambda signum, frame: (open({str(marker)!r}, 'w').close(), sys.exit(3)))"
    child = start_child(log_path, before_meter=previous)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=20) == 3
    assert marker.exists()
    records = read_log(log_path)
    partial = [r for r in records if r["type"] == "window" and r["name"] == "train"]
    assert partial and partial[0]["partial"] is True
    assert any(r["type"] == "signal" for r in records)
    assert records[-1]["type"] == "meter_stop" and records[-1]["reason"] == "atexit"


def test_sigterm_with_default_handler_still_terminates_the_process(tmp_path: Path) -> None:
    log_path = tmp_path / "meter.jsonl"
    child = start_child(log_path)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=20) == -signal.SIGTERM
    records = read_log(log_path)
    train = [r for r in records if r["type"] == "window" and r["name"] == "train"]
    assert train and train[0]["partial"] is True and train[0]["duration_s"] > 0


def test_stop_closes_the_log_with_every_window(tmp_path: Path) -> None:
    log_path = tmp_path / "nested" / "meter.jsonl"
    with Meter(interval_ms=10, log_path=log_path) as meter:
        with meter.window("a"):
            with meter.window("b"):
                sum(range(10**5))
    records = read_log(log_path)
    assert next(r["type"] for r in records) == "meter_start"
    assert (records[-1]["type"], records[-1]["reason"]) == ("meter_stop", "stop")
    assert [r["name"] for r in records if r["type"] == "window"] == ["b", "a"]
    start = records[0]
    assert start["components"] and all(c["source"] in ("measured", "estimated") for c in start["components"])
    assert "cpu_model" in start["hardware"]
    assert any(r["type"] == "sample" for r in records)


def test_read_log_drops_a_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "meter.jsonl"
    path.write_text(json.dumps({"type": "meter_start"}) + "\n" + '{"type": "sample", "t_unix_s": 17')
    assert read_log(path) == [{"type": "meter_start"}]


def test_read_log_refuses_a_damaged_middle_line(tmp_path: Path) -> None:
    path = tmp_path / "meter.jsonl"
    path.write_text('{"type": "meter_start"}\nnot json\n{"type": "meter_stop"}\n')
    with pytest.raises(GreentuneError, match="meter.jsonl:2"):
        read_log(path)


def test_unwritable_log_path_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(GreentuneError, match="cannot write the meter log"):
        Meter(interval_ms=100, log_path=blocker / "meter.jsonl", sensors=[]).start()
