"""The small interface every hardware source (NVML, RAPL, host model) implements.

A sensor owns one or more *components* (``gpu:0``, ``cpu:package-0``, ``ram``)
and, on each ``read(now_s)``, returns a cumulative energy counter in joules per
component since the sensor was created — measured by the hardware, or
integrated from a power model — plus whatever power, utilisation and memory
figures it knows. The `Meter` only subtracts counters, so windows of any
nesting come for free, and tests can inject a recorded trace through this
same interface.

`Kind`, `Source` and the `Sensor` protocol exist for the type checker only:
`greentune measure` imports this module while its command runs, and
importing `typing` would add to what it costs a short command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path (see the module docstring)
if TYPE_CHECKING:
    from typing import Any, Literal, Protocol

    Kind = Literal["gpu", "cpu", "ram"]
    Source = Literal["measured", "estimated"]

    class Sensor(Protocol):
        """A hardware source behind the `Meter`."""

        name: str
        components: list[Component]

        def read(self, now_s: float) -> Reading:
            """Read every component; ``now_s`` is ``time.monotonic()`` of this read."""
            ...

        def describe(self) -> dict[str, Any]:
            """Static facts for the log header and `greentune doctor` (models, limits, paths)."""
            ...

        def close(self) -> None:
            """Release the hardware library, if any."""
            ...


@dataclass(frozen=True)
class Component:
    """One metered device or domain: its name, what it is, and how its energy is known."""

    name: str
    kind: Kind
    source: Source


@dataclass(frozen=True)
class Reading:
    """What one sensor saw at one instant.

    Attributes:
        energy_j: cumulative energy per component name, joules since the sensor was created.
        power_w: instantaneous power per component name, watts, where the hardware reports it.
        util_pct: utilisation per device, percent; keys ``cpu`` or ``gpu:N``.
        memory_bytes: memory in use per device, bytes; keys ``ram`` (process-tree RSS) or ``gpu:N`` (VRAM).
    """

    energy_j: dict[str, float]
    power_w: dict[str, float] = field(default_factory=dict)
    util_pct: dict[str, float] = field(default_factory=dict)
    memory_bytes: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    """The outcome of looking for one sensor: the sensor, or why there is none and what to do.

    ``warn`` marks a sensor that is present but unusable (e.g. RAPL permission
    denied), so its figures fall back to estimates the user could avoid.
    """

    sensor_name: str
    sensor: Sensor | None
    detail: str
    advice: str = ""
    warn: bool = False
