"""The CodeCarbon emissions.csv export."""

import csv
from pathlib import Path

import pytest

from greentune.meter import ComponentEnergy, Measurement, write_codecarbon_csv
from greentune.meter.codecarbon_csv import os_description, random_uuid4

# The fields of EmissionsData, in order, copied from codecarbon 3.3.2,
# codecarbon/output_methods/emissions_data.py (the header CodeCarbon's FileOutput writes).
CODECARBON_3_3_2_HEADER = [
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "water_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "cpu_utilization_percent",
    "gpu_utilization_percent",
    "ram_utilization_percent",
    "ram_used_gb",
    "on_cloud",
    "pue",
    "wue",
]

TRAIN = Measurement(
    name="train",
    start_unix_s=1_700_000_000.0,
    duration_s=100.0,
    components=[
        ComponentEnergy("gpu:0", "gpu", 36_000.0, "measured"),
        ComponentEnergy("gpu:1", "gpu", 18_000.0, "measured"),
        ComponentEnergy("cpu:package-0", "cpu", 7_200.0, "measured"),
        ComponentEnergy("ram", "ram", 360.0, "estimated"),
    ],
    peak_power_w=700.0,
    avg_cpu_util_pct=40.0,
    avg_gpu_util_pct=95.0,
    peak_ram_bytes=8_000_000_000,
    peak_vram_bytes=70_000_000_000,
)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as file:
        header = next(csv.reader(file))
    with path.open(newline="") as file:
        return header, list(csv.DictReader(file))


def test_header_is_codecarbons(tmp_path: Path) -> None:
    path = write_codecarbon_csv(tmp_path / "emissions.csv", [TRAIN])
    header, _ = read_rows(path)
    assert header == CODECARBON_3_3_2_HEADER


def test_values_use_codecarbon_units(tmp_path: Path) -> None:
    hardware = {
        "cpu_model": "AMD EPYC 7B13",
        "cpu_count": 16,
        "ram_total_bytes": 64_000_000_000,
        "gpu_models": ["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"],
    }
    path = write_codecarbon_csv(
        tmp_path / "emissions.csv",
        [TRAIN],
        emissions_kg_by_window={"train": 0.5},
        hardware=hardware,
        project_name="demo",
        country_iso_code="DEU",
        pue=1.2,
    )
    (row,) = read_rows(path)[1]
    assert row["project_name"] == "demo:train"
    assert float(row["duration"]) == 100.0
    assert float(row["gpu_energy"]) == pytest.approx(54_000 / 3.6e6)
    assert float(row["cpu_energy"]) == pytest.approx(7_200 / 3.6e6)
    assert float(row["ram_energy"]) == pytest.approx(360 / 3.6e6)
    assert float(row["energy_consumed"]) == pytest.approx(TRAIN.energy_kwh)
    assert float(row["gpu_power"]) == pytest.approx(540.0)
    assert float(row["emissions"]) == 0.5 and float(row["emissions_rate"]) == pytest.approx(0.005)
    assert row["gpu_count"] == "2" and row["gpu_model"] == "NVIDIA H100 80GB HBM3"
    assert float(row["ram_total_size"]) == 64.0 and row["cpu_model"] == "AMD EPYC 7B13"
    assert row["country_iso_code"] == "DEU" and row["pue"] == "1.2"
    assert row["timestamp"] == "2023-11-14T22:15:00"  # window end, UTC


def test_unknown_fields_stay_empty(tmp_path: Path) -> None:
    (row,) = read_rows(write_codecarbon_csv(tmp_path / "emissions.csv", [TRAIN]))[1]
    for column in (
        "emissions",
        "emissions_rate",
        "water_consumed",
        "country_name",
        "region",
        "cloud_provider",
        "longitude",
        "latitude",
        "codecarbon_version",
        "on_cloud",
        "pue",
        "wue",
    ):
        assert row[column] == "", column


def test_one_row_per_measurement(tmp_path: Path) -> None:
    evaluate = Measurement(name="eval", start_unix_s=1_700_000_100.0, duration_s=10.0)
    _, rows = read_rows(write_codecarbon_csv(tmp_path / "emissions.csv", [TRAIN, evaluate]))
    assert [row["project_name"] for row in rows] == ["greentune:train", "greentune:eval"]
    assert len({row["run_id"] for row in rows}) == 1


def test_os_column_says_what_platform_says() -> None:
    """The hand-built ``os`` string is `platform.platform()`'s, which CodeCarbon writes (catches a changed
    order, separator or C-library part)."""
    import platform

    assert os_description() == platform.platform()


def test_run_id_is_a_random_version_4_uuid() -> None:
    """`uuid.UUID` parses our id back to the same text with version 4 and the RFC 4122 variant; two differ."""
    import uuid

    first, second = random_uuid4(), random_uuid4()
    parsed = uuid.UUID(first)
    assert (str(parsed), parsed.version, parsed.variant) == (first, 4, uuid.RFC_4122)
    assert first != second
