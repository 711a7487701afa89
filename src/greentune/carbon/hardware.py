"""Hardware figures: power (W), peak TFLOPS per precision, memory, embodied kgCO2e.

Accelerators come from `data/accelerators.csv`; CPUs from `data/cpu_tdp.csv`
(written for the meter; read here when present). Names match without regard
to case, spaces, dashes or dots, and through each row's aliases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from greentune.carbon.tables import DataRow, data_row, normalise, optional_float, unknown
from greentune.data import has_table, read_table

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
# A 16-bit request falls back to the other 16-bit format when the chip lists only one (TPUs: bf16).
_FALLBACK = {"fp16": "bf16", "bf16": "fp16"}
_VENDOR_WORDS = ("nvidia", "tesla", "amd", "instinct", "google", "cloud")


@dataclass(frozen=True)
class Hardware:
    """One device model. `power_w` is its TDP (TPUs: measured mean or maximum, see `source`).

    `host_server` names the server row whose embodied emissions are shared among
    its `devices` accelerators; `lifetime_use` is the share of its lifetime the
    hardware is in use (both as published with `embodied_source`); `cores` is a
    CPU's core count (None for accelerators and unknown CPUs).
    """

    name: str
    kind: str
    vendor: str
    power_w: float | None
    memory_gb: float | None
    peak_tflops: dict[str, float] = field(default_factory=dict)
    devices: int = 1
    embodied_kgco2e: float | None = None
    lifetime_years: float | None = None
    host_server: str | None = None
    lifetime_use: float | None = None
    embodied_source: str = ""
    cores: int | None = None
    source: str = ""
    year: str = ""

    def data_row(self) -> DataRow:
        """The citation of this device's figures."""
        return DataRow("accelerators" if self.kind != "cpu" else "cpu_tdp", self.name, self.source, self.year)

    def peak(self, precision: str) -> tuple[str, float] | None:
        """(precision used, peak TFLOPS) for `precision`, falling back between fp16 and bf16."""
        for candidate in (precision, _FALLBACK.get(precision)):
            if candidate and candidate in self.peak_tflops:
                return candidate, self.peak_tflops[candidate]
        return None


def _accelerators() -> list[tuple[list[str], Hardware]]:
    entries = []
    for row in read_table("accelerators"):
        peaks = {
            p: v
            for p in PRECISIONS
            if (v := optional_float(row[f"{p}_tflops" if p != "int8" else "int8_tops"])) is not None
        }
        hardware = Hardware(
            name=row["name"],
            kind=row["kind"],
            vendor=row["vendor"],
            power_w=optional_float(row["tdp_w"]),
            memory_gb=optional_float(row["memory_gb"]),
            peak_tflops=peaks,
            devices=int(row["devices"] or 1),
            embodied_kgco2e=optional_float(row["embodied_kgco2e"]),
            lifetime_years=optional_float(row["lifetime_years"]),
            host_server=row["host_server"] or None,
            lifetime_use=optional_float(row["lifetime_use"]),
            embodied_source=row["embodied_source"],
            source=row["source"],
            year=row["year"],
        )
        names = [row["name"], *[alias for alias in row["aliases"].split(";") if alias.strip()]]
        entries.append((names, hardware))
    return entries


def _cpus() -> list[tuple[list[str], Hardware]]:
    if not has_table("cpu_tdp"):
        return []
    return [
        (
            [row["name"]],
            Hardware(
                name=row["name"],
                kind="cpu",
                vendor=row["vendor"],
                power_w=optional_float(row["tdp_w"]),
                memory_gb=None,
                cores=int(row["cores"]) if row["cores"] else None,
                source=row["source"],
                year=row["year"],
            ),
        )
        for row in read_table("cpu_tdp")
    ]


def hardware_names() -> list[str]:
    """Every accepted hardware name (canonical names and aliases)."""
    return [name for names, _ in _accelerators() + _cpus() for name in names]


def _without_vendor(key: str) -> str:
    """`key` without leading vendor words, so that NVML's 'NVIDIA A100-SXM4-80GB' finds 'A100-SXM4-80GB'."""
    stripped = True
    while stripped:
        stripped = False
        for word in _VENDOR_WORDS:
            if key.startswith(word) and len(key) > len(word):
                key, stripped = key[len(word) :], True
    return key


def lookup_hardware(name: str) -> Hardware:
    """The device called `name` (NVML names too); unknown names raise a GreentuneError naming the closest ones."""
    key = normalise(name)
    for names, hardware in _accelerators() + _cpus():
        if any(normalise(candidate) == key for candidate in names):
            return hardware
    bare = _without_vendor(key)
    for names, hardware in _accelerators():
        if any(_without_vendor(normalise(candidate)) == bare for candidate in names):
            return hardware
    raise unknown("hardware", name, hardware_names(), "names are in greentune/data/accelerators.csv")


def embodied_citation(hardware: Hardware) -> DataRow:
    """The citation of `hardware`'s embodied figure."""
    return data_row(
        "accelerators", f"{hardware.name} (embodied)", {"source": hardware.embodied_source, "year": hardware.year}
    )
