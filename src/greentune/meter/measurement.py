"""The plain result types of the meter: `ComponentEnergy`, `Measurement`, `Sample`."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

    from greentune.meter.sensor import Kind, Source


JOULES_PER_KWH = 3.6e6


@dataclass(frozen=True)
class ComponentEnergy:
    """Energy of one device or domain over one window.

    Attributes:
        name: ``gpu:0``, ``cpu:package-0``, ``ram:package-0`` (RAPL dram), ``cpu`` or ``ram`` (estimated).
        kind: ``gpu``, ``cpu`` or ``ram``.
        energy_j: joules.
        source: ``measured`` (NVML, RAPL) or ``estimated`` (host power model).
    """

    name: str
    kind: Kind
    energy_j: float
    source: Source

    @property
    def energy_kwh(self) -> float:
        """The same energy in kilowatt-hours."""
        return self.energy_j / JOULES_PER_KWH

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with ``energy_kwh``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "source": self.source,
        }


@dataclass(frozen=True)
class Measurement:
    """Time, energy, power, utilisation and memory of one named window.

    Attributes:
        name: the window's name.
        start_unix_s: wall-clock start, seconds since the Unix epoch.
        duration_s: seconds.
        components: energy per device or domain; the totals below sum these.
        peak_power_w: highest total power over one sampling interval, watts.
        avg_cpu_util_pct: machine CPU utilisation averaged over the window, percent (None without host sensor).
        avg_gpu_util_pct: GPU utilisation averaged over the window and the GPUs, percent (None without GPU).
        peak_ram_bytes: highest RSS of the measured process tree, bytes (None without host sensor).
        peak_vram_bytes: highest memory in use summed over the GPUs, bytes (None without GPU).
        partial: True when written at a signal or exit before the window was ended.
    """

    name: str
    start_unix_s: float
    duration_s: float
    components: list[ComponentEnergy] = field(default_factory=list)
    peak_power_w: float = 0.0
    avg_cpu_util_pct: float | None = None
    avg_gpu_util_pct: float | None = None
    peak_ram_bytes: int | None = None
    peak_vram_bytes: int | None = None
    partial: bool = False

    @property
    def energy_j(self) -> float:
        """Total energy over all components, joules."""
        return sum(component.energy_j for component in self.components)

    @property
    def energy_kwh(self) -> float:
        """Total energy over all components, kilowatt-hours."""
        return self.energy_j / JOULES_PER_KWH

    @property
    def avg_power_w(self) -> float:
        """Total energy over duration, watts (0 for an empty window)."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    def energy_j_of(self, kind: Kind) -> float:
        """Energy of every component of one kind, joules."""
        return sum(component.energy_j for component in self.components if component.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the derived totals (``energy_j``, ``energy_kwh``, ``avg_power_w``)."""
        return {
            "name": self.name,
            "start_unix_s": self.start_unix_s,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "avg_power_w": self.avg_power_w,
            "peak_power_w": self.peak_power_w,
            "avg_cpu_util_pct": self.avg_cpu_util_pct,
            "avg_gpu_util_pct": self.avg_gpu_util_pct,
            "peak_ram_bytes": self.peak_ram_bytes,
            "peak_vram_bytes": self.peak_vram_bytes,
            "partial": self.partial,
            "components": [component.to_dict() for component in self.components],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        """Inverse of `to_dict` (derived totals are recomputed, not read)."""
        return cls(
            name=data["name"],
            start_unix_s=data["start_unix_s"],
            duration_s=data["duration_s"],
            components=[ComponentEnergy(c["name"], c["kind"], c["energy_j"], c["source"]) for c in data["components"]],
            peak_power_w=data.get("peak_power_w", 0.0),
            avg_cpu_util_pct=data.get("avg_cpu_util_pct"),
            avg_gpu_util_pct=data.get("avg_gpu_util_pct"),
            peak_ram_bytes=data.get("peak_ram_bytes"),
            peak_vram_bytes=data.get("peak_vram_bytes"),
            partial=data.get("partial", False),
        )


@dataclass(frozen=True)
class Sample:
    """One tick of the background sampler.

    Attributes:
        t_unix_s: wall-clock time, seconds since the Unix epoch.
        energy_j: cumulative energy per component since the meter started, joules.
        power_w: per component, watts — the hardware's instantaneous figure where it
            gives one (NVML), else the average over the interval since the previous sample.
        cpu_util_pct: machine CPU utilisation over the last interval, percent.
        gpu_util_pct: per GPU, percent.
        ram_bytes: RSS of the measured process tree, bytes.
        vram_bytes: memory in use per GPU, bytes.
    """

    t_unix_s: float
    energy_j: dict[str, float]
    power_w: dict[str, float]
    cpu_util_pct: float | None
    gpu_util_pct: dict[str, float]
    ram_bytes: int | None
    vram_bytes: dict[str, int]

    @property
    def total_power_w(self) -> float:
        """Sum of the components' power, watts."""
        return sum(self.power_w.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``sample`` record of the log, without its ``type``)."""
        return {
            "t_unix_s": self.t_unix_s,
            "energy_j": self.energy_j,
            "power_w": self.power_w,
            "cpu_util_pct": self.cpu_util_pct,
            "gpu_util_pct": self.gpu_util_pct,
            "ram_bytes": self.ram_bytes,
            "vram_bytes": self.vram_bytes,
        }
