"""Measurements as CodeCarbon's ``emissions.csv``, so tools that read CodeCarbon output read ours.

The columns are those of ``EmissionsData`` in CodeCarbon 3.3.2
(codecarbon/output_methods/emissions_data.py), in that order, with its units:
duration in s, emissions in kg CO2eq, emissions_rate in kg/s, powers in W,
energies in kWh, ram_total_size in GB. One row per measurement;
``project_name`` is ``<project>:<window>``. The meter knows no carbon, place
or water: those columns stay empty unless given, as does anything else we do
not know. The ``os`` column is built from `os.uname` and `os.confstr`, in
`platform.platform()`'s format, and the run id is a version-4 UUID from
`os.urandom`: `platform` (which `uuid` imports too) costs tens of ms to import and
`platform.platform()` reads the interpreter's binary to find the C library,
all after the command exits, on `greentune measure`'s start-up budget.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.meter.measurement import JOULES_PER_KWH, Measurement

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

CODECARBON_COLUMNS = (
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
)
_BYTES_PER_GB = 1e9


def write_codecarbon_csv(
    path: Path | str,
    measurements: list[Measurement],
    *,
    emissions_kg_by_window: dict[str, float] | None = None,
    hardware: dict[str, Any] | None = None,
    project_name: str = "greentune",
    run_id: str | None = None,
    country_iso_code: str | None = None,
    region: str | None = None,
    cloud_provider: str | None = None,
    cloud_region: str | None = None,
    pue: float | None = None,
) -> Path:
    """Write one CodeCarbon-schema row per measurement to ``path`` (replacing it); return the path.

    ``hardware`` is `Meter.hardware` (CPU/GPU models, counts, RAM size);
    ``emissions_kg_by_window`` maps window names to kg CO2eq from the carbon accounting.
    """
    path = Path(path)
    hardware = hardware or {}
    emissions = emissions_kg_by_window or {}
    run_id = run_id or random_uuid4()
    rows = [
        _row(m, emissions.get(m.name), hardware, f"{project_name}:{m.name}", run_id)
        | _given(
            country_iso_code=country_iso_code,
            region=region,
            cloud_provider=cloud_provider,
            cloud_region=cloud_region,
            pue=pue,
        )
        for m in measurements
    ]
    try:
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=CODECARBON_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise GreentuneError(f"cannot write {path}: {error.strerror}; choose a writable output folder") from error
    return path


def _row(
    m: Measurement, emissions_kg: float | None, hardware: dict[str, Any], project_name: str, run_id: str
) -> dict[str, Any]:
    """The columns one measurement fills."""
    from datetime import UTC, datetime

    end = datetime.fromtimestamp(m.start_unix_s + m.duration_s, tz=UTC)
    gpu_models = hardware.get("gpu_models", [])
    ram_total = hardware.get("ram_total_bytes")
    per_second = 1.0 / m.duration_s if m.duration_s > 0 else 0.0
    return {
        "timestamp": end.strftime("%Y-%m-%dT%H:%M:%S"),
        "project_name": project_name,
        "run_id": run_id,
        "experiment_id": "",
        "duration": m.duration_s,
        "emissions": "" if emissions_kg is None else emissions_kg,
        "emissions_rate": "" if emissions_kg is None else emissions_kg * per_second,
        "cpu_power": m.energy_j_of("cpu") * per_second,
        "gpu_power": m.energy_j_of("gpu") * per_second,
        "ram_power": m.energy_j_of("ram") * per_second,
        "cpu_energy": m.energy_j_of("cpu") / JOULES_PER_KWH,
        "gpu_energy": m.energy_j_of("gpu") / JOULES_PER_KWH,
        "ram_energy": m.energy_j_of("ram") / JOULES_PER_KWH,
        "energy_consumed": m.energy_kwh,
        "os": os_description(),
        "python_version": sys.version.split()[0],
        "cpu_count": hardware.get("cpu_count", ""),
        "cpu_model": hardware.get("cpu_model", ""),
        "gpu_count": len(gpu_models),
        "gpu_model": ", ".join(sorted(set(gpu_models))),
        "ram_total_size": "" if ram_total is None else ram_total / _BYTES_PER_GB,
        "tracking_mode": "machine",
        "cpu_utilization_percent": _blank(m.avg_cpu_util_pct),
        "gpu_utilization_percent": _blank(m.avg_gpu_util_pct),
        "ram_used_gb": "" if m.peak_ram_bytes is None else m.peak_ram_bytes / _BYTES_PER_GB,
    }


def _given(**values: Any) -> dict[str, Any]:
    """Only the optional columns the caller gave."""
    return {name: value for name, value in values.items() if value is not None}


def _blank(value: float | None) -> float | str:
    """Empty cell for an unknown value."""
    return "" if value is None else value


def random_uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID in its canonical text form."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def os_description() -> str:
    """What `platform.platform()` says on Linux with glibc (``Linux-6.1.0-x86_64-with-glibc2.36``); elsewhere
    `platform.platform()` itself."""
    uname = os.uname()
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        libc = None
    if uname.sysname != "Linux" or not libc:
        import platform

        return platform.platform()
    name, _, version = libc.partition(" ")
    return f"{uname.sysname}-{uname.release}-{uname.machine}-with-{name}{version}"
