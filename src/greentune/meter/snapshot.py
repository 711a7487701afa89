"""The counters a meter can start from, read with the standard library alone before a metered command starts.

`greentune measure` reads these, starts the command, and only then imports
the meter and its sensors (tens of milliseconds of imports, see
benchmarks/measure_startup.py) while the command already runs; the sensors
are seeded with the snapshot (``Meter(since=...)``), so the measured window
still begins before the command did. What is read, per sensor:

- RAPL: the raw ``energy_uj`` of every powercap zone (`rapl.RaplSensor`
  takes them as its first readings);
- host, ``machine`` scope: busy and total CPU seconds of the machine from
  ``/proc/stat``, with psutil's definitions, so that the first utilisation
  psutil's later readings are compared with is the snapshot's;
- host, ``process`` scope: this process's CPU seconds and its reaped
  children's (`os.times`), the whole process tree while the command is not
  yet started.

NVML's counter cannot be read without NVML itself, so on a machine with an
NVIDIA device (`nvidia_present`) the meter starts before the command instead.
No dataclass and no pathlib here: their imports alone would come before the
command starts.
"""

from __future__ import annotations

import os
import time

PROC_STAT_PATH = "/proc/stat"
POWERCAP_ROOT = "/sys/class/powercap"  # `rapl.DEFAULT_POWERCAP_ROOT` is this path
# any of these exists wherever an NVIDIA driver is loaded (a container with GPUs gets the device nodes)
NVIDIA_DEVICE_PATHS = ("/dev/nvidiactl", "/proc/driver/nvidia")
_PROC_STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
_RAPL_PREFIXES = ("intel-rapl:", "amd-rapl:")


class Snapshot:
    """Clocks and counters at one instant; a counter that could not be read is absent (None or missing key)."""

    __slots__ = ("children_cpu_s", "machine_cpu_s", "mono_s", "own_cpu_s", "rapl_uj", "unix_s")

    def __init__(
        self,
        mono_s: float,
        unix_s: float,
        rapl_uj: dict[str, int],
        machine_cpu_s: tuple[float, float] | None,
        own_cpu_s: float,
        children_cpu_s: float,
    ) -> None:
        """``rapl_uj``: raw counter per zone folder path; ``machine_cpu_s``: (busy, total) CPU seconds;
        ``own_cpu_s``: this process's user + system seconds; ``children_cpu_s``: those of the children it reaped."""
        self.mono_s = mono_s
        self.unix_s = unix_s
        self.rapl_uj = rapl_uj
        self.machine_cpu_s = machine_cpu_s
        self.own_cpu_s = own_cpu_s
        self.children_cpu_s = children_cpu_s


def take_snapshot(powercap_root: str = POWERCAP_ROOT, proc_stat_path: str = PROC_STAT_PATH) -> Snapshot:
    """Read the clocks, every readable RAPL counter under ``powercap_root``, the machine's and our CPU time."""
    own = os.times()
    return Snapshot(
        mono_s=time.monotonic(),
        unix_s=time.time(),
        rapl_uj=read_rapl_counters(powercap_root),
        machine_cpu_s=read_machine_cpu_s(proc_stat_path),
        own_cpu_s=own.user + own.system,
        children_cpu_s=own.children_user + own.children_system,
    )


def read_rapl_counters(powercap_root: str) -> dict[str, int]:
    """The raw ``energy_uj`` of each RAPL zone folder under ``powercap_root``; unreadable zones are left out."""
    try:
        names = os.listdir(powercap_root)
    except OSError:
        return {}
    counters: dict[str, int] = {}
    for name in names:
        if name.startswith(_RAPL_PREFIXES):
            zone_path = os.path.join(powercap_root, name)
            try:
                with open(os.path.join(zone_path, "energy_uj")) as counter:
                    counters[zone_path] = int(counter.read())
            except (OSError, ValueError):
                continue
    return counters


def read_machine_cpu_s(proc_stat_path: str = PROC_STAT_PATH) -> tuple[float, float] | None:
    """Busy and total CPU seconds of the machine from the ``cpu`` line of /proc/stat; None where there is none."""
    try:
        with open(proc_stat_path) as stat:
            first_line = stat.readline().split()
        if first_line[:1] != ["cpu"]:
            return None
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        values = [int(value) / ticks_per_s for value in first_line[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return cpu_busy_total_s(dict(zip(_PROC_STAT_FIELDS, values, strict=False)))


def cpu_busy_total_s(times_s: dict[str, float]) -> tuple[float, float]:
    """Busy and total CPU seconds from cumulative CPU times by field name, as psutil's ``cpu_percent`` counts them.

    Guest time is already inside user and nice time on Linux, so it is not added
    again; idle and I/O wait are not busy.
    """
    total_s = sum(times_s.values()) - times_s.get("guest", 0.0) - times_s.get("guest_nice", 0.0)
    busy_s = total_s - times_s.get("idle", 0.0) - times_s.get("iowait", 0.0)
    return busy_s, total_s


def nvidia_present(device_paths: tuple[str, ...] = NVIDIA_DEVICE_PATHS) -> bool:
    """Whether this machine shows an NVIDIA driver (whose energy counters need NVML to read)."""
    return any(os.path.exists(path) for path in device_paths)
