"""RAPL on a fake powercap tree: zones, wrap-around, permission denied and the estimated fallback."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from greentune.meter import Meter
from greentune.meter.rapl import RaplSensor, detect, find_zones

MAX_UJ = 262_143_328_850


def make_zone(root: Path, directory: str, name: str, energy_uj: int, max_uj: int = MAX_UJ) -> Path:
    zone = root / directory
    zone.mkdir(parents=True)
    (zone / "name").write_text(f"{name}\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def set_energy(zone: Path, energy_uj: int) -> None:
    (zone / "energy_uj").write_text(f"{energy_uj}\n")


def make_unreadable(path: Path) -> None:
    """Make a file this process cannot read: chmod 000, or for root (who ignores modes) a link to a
    kernel file that refuses reads even to root (/proc/sys/vm/drop_caches is write-only)."""
    path.chmod(0)
    try:
        path.read_text()
    except PermissionError:
        return
    refusing = Path("/proc/sys/vm/drop_caches")
    try:
        refusing.read_text()
    except PermissionError:
        path.unlink()
        path.symlink_to(refusing)
        return
    except OSError:
        pass
    pytest.skip("no way to make a file unreadable for this user")


def intel_tree(root: Path) -> dict[str, Path]:
    """Two packages with core and dram subzones, plus psys and an mmio duplicate that must be skipped."""
    return {
        "package-0": make_zone(root, "intel-rapl:0", "package-0", 1_000_000),
        "core-0": make_zone(root, "intel-rapl:0:0", "core", 500_000),
        "dram-0": make_zone(root, "intel-rapl:0:1", "dram", 2_000_000),
        "package-1": make_zone(root, "intel-rapl:1", "package-1", 3_000_000),
        "dram-1": make_zone(root, "intel-rapl:1:0", "dram", 4_000_000),
        "psys": make_zone(root, "intel-rapl:2", "psys", 9_000_000),
        "mmio": make_zone(root, "intel-rapl-mmio:0", "package-0", 1_000_000),
    }


def test_finds_packages_and_dram_and_skips_core_psys_and_mmio(tmp_path: Path) -> None:
    intel_tree(tmp_path)
    names = [(zone.component.name, zone.component.kind) for zone in find_zones(tmp_path)]
    assert names == [
        ("cpu:package-0", "cpu"),
        ("cpu:package-1", "cpu"),
        ("ram:package-0", "ram"),
        ("ram:package-1", "ram"),
    ]


def test_amd_tree_with_package_only(tmp_path: Path) -> None:
    make_zone(tmp_path, "intel-rapl:0", "package-0", 10)
    make_zone(tmp_path, "intel-rapl:0:0", "core", 10)
    detection = detect(tmp_path)
    assert detection.sensor is not None
    assert [c.name for c in detection.sensor.components] == ["cpu:package-0"]
    assert all(c.source == "measured" for c in detection.sensor.components)


def test_energy_counts_from_creation_in_joules(tmp_path: Path) -> None:
    zones = intel_tree(tmp_path)
    sensor = RaplSensor(find_zones(tmp_path))
    set_energy(zones["package-0"], 1_000_000 + 2_500_000)
    set_energy(zones["dram-1"], 4_000_000 + 750_000)
    reading = sensor.read(0.0)
    assert reading.energy_j == {"cpu:package-0": 2.5, "cpu:package-1": 0.0, "ram:package-0": 0.0, "ram:package-1": 0.75}


def test_wrap_around_adds_max_energy_range(tmp_path: Path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 900_000, max_uj=1_000_000)
    sensor = RaplSensor(find_zones(tmp_path))
    set_energy(zone, 950_000)
    assert sensor.read(0.0).energy_j["cpu:package-0"] == pytest.approx(0.05)
    set_energy(zone, 50_000)  # passed 1_000_000 and started again from zero
    assert sensor.read(0.1).energy_j["cpu:package-0"] == pytest.approx(0.15)
    set_energy(zone, 40_000)  # wrapped a second time
    assert sensor.read(0.2).energy_j["cpu:package-0"] == pytest.approx(0.15 + 0.99)


def test_window_spanning_a_wrap_gets_the_true_energy(tmp_path: Path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 990_000, max_uj=1_000_000)
    with Meter(interval_ms=60_000, sensors=[RaplSensor(find_zones(tmp_path))]) as meter:
        meter.begin_window("train")
        set_energy(zone, 20_000)
        measurement = meter.end_window("train")
    assert measurement.components[0].name == "cpu:package-0"
    assert measurement.components[0].source == "measured"
    assert measurement.energy_j == pytest.approx(0.03)


def test_permission_denied_is_reported_with_advice(tmp_path: Path) -> None:
    zones = intel_tree(tmp_path)
    make_unreadable(zones["package-0"] / "energy_uj")
    detection = detect(tmp_path)
    assert detection.sensor is None
    assert detection.warn
    assert "permission denied" in detection.detail
    assert "energy_uj" in detection.detail
    assert "chmod" in detection.advice


def test_no_powercap_tree(tmp_path: Path) -> None:
    detection = detect(tmp_path / "missing")
    assert detection.sensor is None and not detection.warn
    assert "no powercap tree" in detection.detail


def test_permission_denied_falls_back_to_labelled_estimates_with_one_warning(tmp_path: Path) -> None:
    zones = intel_tree(tmp_path)
    make_unreadable(zones["package-0"] / "energy_uj")
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from greentune.meter import Meter, detect_sensors
        from greentune.meter.detect import autodetect
        root = Path({str(tmp_path)!r})
        detect_sensors(root)
        sensors = autodetect(root)
        with Meter(interval_ms=60_000, sensors=sensors) as meter:
            with meter.window("w") as w:
                pass
        print(sorted((c.name, c.source) for c in w.measurement.components))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[('cpu', 'estimated'), ('ram', 'estimated')]"
    warnings = [line for line in result.stderr.splitlines() if "RAPL permission denied" in line]
    assert len(warnings) == 1, result.stderr
    assert "ESTIMATED" in warnings[0]
