"""The host model: TDP table matching, the power model, the data files, and a light import.

Nothing here depends on this machine's CPU: the CPU model comes from a fake /proc/cpuinfo and the core
count from a patched psutil, so the expected watts are exact on any host.
"""

import csv
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from fake_host import fake_cpu
from greentune.meter import host
from greentune.meter.host import (
    CpuCorePower,
    HostSensor,
    cpu_model_name,
    cpu_power,
    match_cpu_tdp,
    read_cpu_core_power,
    read_cpu_tdp_table,
)

UNKNOWN_VM_CPU = "Intel(R) Xeon(R) Processor"


def data_rows(name: str) -> list[dict[str, str]]:
    text = (resources.files("greentune") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.fixture
def fake_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the host model at a fake /proc/cpuinfo naming `model` and a psutil that shows `cores` cores."""
    return lambda model, cores: fake_cpu(monkeypatch, tmp_path, model, cores)


def test_cpu_tdp_table_columns_and_sources() -> None:
    rows = data_rows("cpu_tdp.csv")
    assert list(rows[0]) == ["name", "vendor", "tdp_w", "cores", "source", "year"]
    assert len(rows) >= 20
    assert all(row["source"] and row["year"].isdigit() and float(row["tdp_w"]) > 0 for row in rows)
    assert all(int(row["cores"]) > 0 for row in rows)  # every row can be charged per core


def test_cpu_core_power_table_has_a_sourced_figure_inside_its_range() -> None:
    (row,) = data_rows("cpu_core_power.csv")
    assert list(row) == ["name", "power_w_per_core", "low_w_per_core", "high_w_per_core", "source", "year"]
    assert row["source"] and row["year"].isdigit()
    assert float(row["low_w_per_core"]) < float(row["power_w_per_core"]) < float(row["high_w_per_core"])
    assert read_cpu_core_power() == CpuCorePower(12.0, 3.8, 23.8, row["source"], 2021)


def test_ram_power_table_has_source_and_year() -> None:
    (row,) = data_rows("ram_power.csv")
    assert float(row["power_w_per_gb"]) > 0 and row["source"] and row["year"].isdigit()


@pytest.mark.parametrize(
    ("model", "row"),
    [
        ("Intel(R) Xeon(R) Platinum 8480+", "Intel Xeon Platinum 8480+"),
        ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4"),
        ("AMD EPYC 7B13 64-Core Processor", "AMD EPYC 7B13"),
        ("AMD EPYC", "AMD EPYC"),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763"),
        ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K"),
        ("Apple M2 Max", None),
        (UNKNOWN_VM_CPU, None),
        ("AMD EPYC 77", "AMD EPYC"),
    ],
)
def test_cpu_model_strings_find_their_row(model: str, row: str | None) -> None:
    found = match_cpu_tdp(model, read_cpu_tdp_table())
    assert (found.name if found is not None else None) == row


def test_model_name_is_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n\nprocessor\t: 1\n")
    assert cpu_model_name(cpuinfo) == "AMD EPYC 7763 64-Core Processor"


def test_a_known_cpu_is_charged_its_share_of_the_package() -> None:
    table, per_core = read_cpu_tdp_table(), read_cpu_core_power()
    slice_ = cpu_power("Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.0GHz", 2, table, per_core)
    assert (slice_.visible_cores, slice_.full_load_w, slice_.low_w, slice_.high_w) == (2, 12.5, 12.5, 12.5)  # 350/56×2
    assert slice_.basis == "TDP row 'Intel Xeon Platinum 8480+' (350 W, 56 cores)"
    whole = cpu_power("Intel(R) Xeon(R) Platinum 8480+", 112, table, per_core)  # capped at the package's 56 cores
    assert (whole.visible_cores, whole.full_load_w) == (56, 350.0)


def test_an_unknown_cpu_is_charged_per_visible_core_with_a_range() -> None:
    per_core = CpuCorePower(12.0, 3.8, 23.8, "Green Algorithms", 2021)
    power = cpu_power(UNKNOWN_VM_CPU, 2, read_cpu_tdp_table(), per_core)
    assert power.tdp_row is None
    assert (power.visible_cores, power.full_load_w) == (2, 24.0)
    assert (power.low_w, power.high_w) == pytest.approx((7.6, 47.6))
    assert power.basis == (
        "CPU 'Intel(R) Xeon(R) Processor' is not in the TDP table: estimated at 12 W per visible core × 2 = 24 W "
        "at full use (per core 3.8–23.8 W, i.e. 7.6–47.6 W); Green Algorithms (2021)"
    )


def test_power_model_is_linear_in_utilisation_and_scaled_to_visible_cores(fake_host) -> None:
    fake_host("Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.0GHz", 2)
    sensor = HostSensor(estimate_cpu=True, estimate_ram=True)
    assert sensor.cpu_power_w(0.0) == 0.0
    assert sensor.cpu_power_w(100.0) == pytest.approx(12.5)
    assert sensor.cpu_power_w(50.0) == pytest.approx(6.25)
    assert sensor.ram_power_w(8_000_000_000) == pytest.approx(8 * 0.3725)
    assert [c.name for c in sensor.components] == ["cpu", "ram"]
    assert all(c.source == "estimated" for c in sensor.components)
    assert sensor.notes == []  # a known CPU needs no note


def test_unknown_cpu_on_a_two_core_vm_is_estimated_per_core_and_says_so(fake_host) -> None:
    fake_host(UNKNOWN_VM_CPU, 2)
    sensor = HostSensor(estimate_cpu=True, estimate_ram=False)
    assert sensor.cpu_power_w(100.0) == pytest.approx(24.0)  # 12 W × 2 cores, not the 85 W package of before
    assert sensor.cpu_power_w(25.0) == pytest.approx(6.0)
    assert [(c.name, c.source) for c in sensor.components] == [("cpu", "estimated")]
    (note,) = sensor.notes
    assert note.startswith("CPU energy: CPU 'Intel(R) Xeon(R) Processor' is not in the TDP table")
    assert "per core 3.8–23.8 W, i.e. 7.6–47.6 W" in note
    assert sensor.describe()["cpu_full_load_range_w"] == pytest.approx([7.6, 47.6])
    detection = host.detect(estimate_cpu=True, estimate_ram=False)
    assert detection.detail.startswith("CPU 'Intel(R) Xeon(R) Processor' is not in the TDP table: estimated at 12 W")
    assert "2 core(s) visible" in detection.detail
    assert "cpu_tdp.csv" in detection.advice


def test_unknown_cpu_note_only_when_the_cpu_is_estimated(fake_host) -> None:
    fake_host(UNKNOWN_VM_CPU, 2)
    assert HostSensor(estimate_cpu=False, estimate_ram=True).notes == []  # RAPL measures it: no estimate to qualify


def test_host_sensor_estimates_only_what_it_is_asked_to() -> None:
    sensor = HostSensor(estimate_cpu=False, estimate_ram=True)
    reading = sensor.read(0.0)
    assert set(reading.energy_j) == {"ram"}
    assert "cpu" in reading.util_pct and reading.memory_bytes["ram"] > 0


def test_import_is_light() -> None:
    code = (
        "import sys; from greentune.meter import Meter, detect_sensors, write_codecarbon_csv; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pandas', 'pynvml', 'numpy') "
        "or m.startswith('greentune.carbon')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_meter_passes_the_unknown_cpu_note_on_for_the_record(fake_host) -> None:
    from greentune.meter import Meter

    fake_host(UNKNOWN_VM_CPU, 2)
    sensor = HostSensor(estimate_cpu=True, estimate_ram=True)
    assert Meter(sensors=[sensor]).notes == sensor.notes
    assert len(sensor.notes) == 1
