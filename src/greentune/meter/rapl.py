"""CPU package and DRAM energy from RAPL through the Linux powercap sysfs tree.

Intel and AMD (Zen, kernel ≥ 5.8) expose the same layout under
``/sys/class/powercap``: one zone per package, ``intel-rapl:N`` named
``package-N`` (or ``package-N-die-M``), with subzones ``intel-rapl:N:M``
named ``core``, ``uncore`` or ``dram``. Each zone has ``energy_uj`` (a
microjoule counter) and ``max_energy_range_uj`` (where that counter wraps to
zero). We meter packages as ``cpu:<name>`` and dram subzones as
``ram:<package name>``; ``core``/``uncore`` are parts of the package and
``psys`` (the whole platform) and ``intel-rapl-mmio`` (a second view of the
package) would double count, so they are skipped.

Wrap-around: a reading smaller than the previous one means the counter
passed ``max_energy_range_uj``, which is then added to that zone's offset.
This needs a read at least once per wrap period; the `Meter`'s sampler reads
every 100 ms by default (`greentune measure --interval-ms` takes at most 10 s)
while a package wraps after minutes (2^32 µJ at 250 W is 17 s; most ranges
are far larger). Unlike Zeus, which polls each file in a
helper process, we rely on that sampler.

Since 2020 (CVE-2020-8694) ``energy_uj`` is readable by root only on most
distributions; `detect` reports that case so the caller can fall back to the
host model and say so once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from greentune.meter.sensor import Component, Detection, Reading
from greentune.meter.snapshot import POWERCAP_ROOT, Snapshot

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

DEFAULT_POWERCAP_ROOT = Path(POWERCAP_ROOT)
_ZONE_DIR = re.compile(r"^(intel-rapl|amd-rapl):(\d+)(?::(\d+))?$")

PERMISSION_ADVICE = (
    "run as root, or let this user read the counters: "
    "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/intel-rapl:*/*/energy_uj"
)


@dataclass(frozen=True)
class RaplZone:
    """One metered powercap zone."""

    component: Component
    path: Path
    max_energy_range_uj: int


class RaplPermissionError(Exception):
    """An energy_uj file exists but this user may not read it."""


class RaplSensor:
    """Package (``cpu:package-N``) and DRAM (``ram:package-N``) energy counters."""

    name = "rapl"

    def __init__(self, zones: list[RaplZone], since: Snapshot | None = None) -> None:
        """Meter ``zones``; reads each once now so a permission problem shows at once.

        With ``since``, each zone counts from its counter in that snapshot (where it has one), not from now.
        """
        self.zones = zones
        self.components = [zone.component for zone in zones]
        self._first_uj: dict[str, int] = {}
        self._last_uj: dict[str, int] = {}
        self._wrap_offset_uj: dict[str, int] = {}
        for zone in zones:
            name = zone.component.name
            raw_uj = _read_energy_uj(zone.path)
            first_uj = raw_uj if since is None else since.rapl_uj.get(str(zone.path), raw_uj)
            self._first_uj[name] = first_uj
            self._last_uj[name] = first_uj
            self._wrap_offset_uj[name] = 0
            self._fold_in(zone, raw_uj)

    def read(self, now_s: float) -> Reading:
        """Cumulative joules per zone since creation, wrap-arounds included."""
        energy_j: dict[str, float] = {}
        for zone in self.zones:
            name = zone.component.name
            self._fold_in(zone, _read_energy_uj(zone.path))
            total_uj = self._last_uj[name] + self._wrap_offset_uj[name] - self._first_uj[name]
            energy_j[name] = total_uj / 1e6
        return Reading(energy_j=energy_j)

    def _fold_in(self, zone: RaplZone, raw_uj: int) -> None:
        """Take a new raw counter value; a smaller one than the last means the counter wrapped."""
        name = zone.component.name
        if raw_uj < self._last_uj[name]:
            self._wrap_offset_uj[name] += zone.max_energy_range_uj
        self._last_uj[name] = raw_uj

    def describe(self) -> dict[str, Any]:
        """The zones and their sysfs paths."""
        return {"zones": {zone.component.name: str(zone.path) for zone in self.zones}}

    def close(self) -> None:
        """Nothing to release."""


def find_zones(root: Path = DEFAULT_POWERCAP_ROOT) -> list[RaplZone]:
    """Package and dram zones under a powercap ``root``, packages first, in index order.

    ``/sys/class/powercap`` lists every zone and subzone side by side
    (``intel-rapl:0``, ``intel-rapl:0:1``, …), so one directory listing finds them all.
    """
    packages: dict[int, tuple[Path, str]] = {}
    subzones: list[tuple[int, int, Path]] = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        match = _ZONE_DIR.match(path.name)
        if match is None:
            continue
        package_index = int(match.group(2))
        if match.group(3) is None:
            packages[package_index] = (path, _read_text(path / "name"))
        else:
            subzones.append((package_index, int(match.group(3)), path))

    zones: list[RaplZone] = []
    for package_index in sorted(packages):
        path, name = packages[package_index]
        if name.startswith("package"):
            zones.append(_zone(Component(f"cpu:{name}", "cpu", "measured"), path))
    for package_index, _, path in sorted(subzones, key=lambda item: (item[0], item[1])):
        if _read_text(path / "name") == "dram" and package_index in packages:
            package_name = packages[package_index][1]
            zones.append(_zone(Component(f"ram:{package_name}", "ram", "measured"), path))
    return zones


def detect(root: Path = DEFAULT_POWERCAP_ROOT, since: Snapshot | None = None) -> Detection:
    """A RAPL sensor for ``root`` (counting from ``since`` when given), or why there is none (absent, no zones,
    permission denied)."""
    if not root.is_dir():
        return Detection(
            "rapl",
            None,
            f"no powercap tree at {root} (not Linux, a VM without RAPL, or the intel_rapl module is not loaded)",
            "on bare metal: sudo modprobe intel_rapl_common; in a VM or container, CPU/RAM energy is estimated",
        )
    try:
        zones = find_zones(root)
        if not zones:
            return Detection("rapl", None, f"{root} has no RAPL package zones", "CPU/RAM energy is estimated")
        sensor = RaplSensor(zones, since)
    except RaplPermissionError as error:
        return Detection("rapl", None, f"RAPL permission denied: {error}", PERMISSION_ADVICE, warn=True)
    names = ", ".join(component.name for component in sensor.components)
    return Detection("rapl", sensor, f"{len(zones)} zone(s) under {root}: {names}")


def _zone(component: Component, path: Path) -> RaplZone:
    """A zone with its wrap-around range."""
    return RaplZone(component, path, int(_read_text(path / "max_energy_range_uj")))


def _read_energy_uj(zone_path: Path) -> int:
    """The zone's counter; a refused read becomes RaplPermissionError naming the file."""
    energy_path = zone_path / "energy_uj"
    try:
        return int(energy_path.read_text().strip())
    except PermissionError as error:
        raise RaplPermissionError(f"cannot read {energy_path}") from error


def _read_text(path: Path) -> str:
    """A one-line sysfs attribute."""
    return path.read_text().strip()
