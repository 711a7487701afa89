"""`greentune doctor` names every sensor, and says why a missing one is missing and what to do.

The exact lines are checked on fixed detections (a fake cpuinfo for the host model), so that the test holds on
any machine; the real command is run once for what holds everywhere (psutil is a dependency: host is found).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import greentune.meter
from fake_host import fake_cpu
from greentune.cli.app import app
from greentune.meter import detect_sensors, host
from greentune.meter.sensor import Detection


def test_doctor_shows_why_a_sensor_is_missing_and_the_range_of_an_unknown_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cpu(monkeypatch, tmp_path, "Intel(R) Xeon(R) Processor", 2)
    detections = [
        Detection("nvml", None, "NVML did not start: NVML Shared Library Not Found", "install the NVIDIA driver"),
        Detection("rapl", None, "no powercap tree at /sys/class/powercap", "in a VM, CPU/RAM energy is estimated"),
        host.detect(estimate_cpu=True, estimate_ram=True),
    ]
    monkeypatch.setattr(greentune.meter, "detect_sensors", lambda: detections)
    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    assert table_rows(result.output) == [
        ["nvml", "missing", "NVML did not start: NVML Shared Library Not Found", "to do: install the NVIDIA driver"],
        ["rapl", "missing", "no powercap tree at /sys/class/powercap", "to do: in a VM, CPU/RAM energy is estimated"],
        [
            "host",
            "found",
            "CPU 'Intel(R) Xeon(R) Processor' is not in the TDP table: estimated at 12 W per visible core × 2 = 24 W "
            f"at full use (per core 3.8–23.8 W, i.e. 7.6–47.6 W); {host.read_cpu_core_power().source} (2021); "
            "2 core(s) visible; charges machine CPU utilisation and memory",
            "meters: cpu (estimated), ram (estimated)",
            "to do: add your CPU to greentune/data/cpu_tdp.csv for a narrower estimate",
        ],
    ]


def table_rows(output: str) -> list[list[str]]:
    """[sensor, status, line, line, …] per row of Rich's table (a continuation line has an empty sensor cell)."""
    rows: list[list[str]] = []
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        sensor, status, text = (cell.strip() for cell in line.split("│")[1:-1])
        if sensor:
            rows.append([sensor, status, text])
        else:
            rows[-1].append(text)
    return rows


def test_the_real_doctor_lists_the_three_sensors_and_finds_the_host_model() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "greentune"), "doctor"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    for detection in detect_sensors():
        assert detection.sensor_name in result.stdout
        assert detection.detail.split(":")[0] in result.stdout
        if detection.sensor is None:
            assert "missing" in result.stdout and "to do" in result.stdout
        else:  # the exact components and sources this machine's sensor meters, as detected in-process
            meters = "meters: " + ", ".join(f"{c.name} ({c.source})" for c in detection.sensor.components)
            assert meters in result.stdout
    assert "host" in result.stdout and "found" in result.stdout
    statuses = {row[0]: row[1] for row in table_rows(result.stdout)}
    assert statuses.keys() == {"nvml", "rapl", "host"}
    assert statuses["host"] == "found" and {statuses["nvml"], statuses["rapl"]} <= {"found", "missing"}
