"""The host model: TDP table matching, the power model, the data files, and a light import."""

import csv
import subprocess
import sys
from importlib import resources

import pytest

from greentune.meter.host import GENERIC_CPU, HostSensor, cpu_model_name, match_cpu_tdp, read_cpu_tdp_table


def data_rows(name: str) -> list[dict[str, str]]:
    text = (resources.files("greentune") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_cpu_tdp_table_columns_sources_and_generic_row() -> None:
    rows = data_rows("cpu_tdp.csv")
    assert list(rows[0]) == ["name", "vendor", "tdp_w", "cores", "source", "year"]
    assert len(rows) >= 20
    assert all(row["source"] and row["year"].isdigit() and float(row["tdp_w"]) > 0 for row in rows)
    assert sum(row["name"] == GENERIC_CPU for row in rows) == 1


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
        ("Apple M2 Max", GENERIC_CPU),
        ("AMD EPYC 77", "AMD EPYC"),
    ],
)
def test_cpu_model_strings_find_their_row(model: str, row: str) -> None:
    assert match_cpu_tdp(model, read_cpu_tdp_table()).name == row


def test_this_machines_cpu_has_a_row() -> None:
    assert match_cpu_tdp(cpu_model_name(), read_cpu_tdp_table()).name != GENERIC_CPU


def test_power_model_is_linear_in_utilisation_and_scaled_to_visible_cores() -> None:
    sensor = HostSensor(estimate_cpu=True, estimate_ram=True)
    row = sensor.cpu_tdp
    share = sensor.visible_cores / (row.cores or sensor.visible_cores)
    assert sensor.cpu_power_w(0.0) == 0.0
    assert sensor.cpu_power_w(100.0) == pytest.approx(row.tdp_w * share)
    assert sensor.cpu_power_w(50.0) == pytest.approx(row.tdp_w * share / 2)
    assert sensor.ram_power_w(8_000_000_000) == pytest.approx(8 * sensor.ram_w_per_gb)
    assert [c.name for c in sensor.components] == ["cpu", "ram"]
    assert all(c.source == "estimated" for c in sensor.components)


def test_host_sensor_estimates_only_what_it_is_asked_to() -> None:
    sensor = HostSensor(estimate_cpu=False, estimate_ram=True)
    reading = sensor.read(0.0)
    assert set(reading.energy_j) == {"ram"}
    assert "cpu" in reading.util_pct and reading.memory_bytes["ram"] > 0


def test_import_is_light() -> None:
    code = (
        "import sys, greentune.meter; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pandas', 'pynvml', 'numpy') "
        "or m.startswith('greentune.carbon')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
