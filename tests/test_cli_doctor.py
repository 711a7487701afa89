"""`greentune doctor` names every sensor, and says why a missing one is missing and what to do."""

import os
import subprocess
import sys
from pathlib import Path

from greentune.meter import detect_sensors


def test_doctor_lists_every_sensor_with_a_reason() -> None:
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
