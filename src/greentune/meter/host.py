"""CPU utilisation and memory through psutil, and *estimated* CPU and RAM power.

Used where nothing measures the CPU or the RAM (no RAPL, RAPL not readable,
no dram zone). The power model is the one of Green Algorithms (Lannelongue,
Grealey & Inouye, Advanced Science 2021, doi:10.1002/advs.202100707):

    cpu_power_w = tdp_w / cores × visible_cores × utilisation
    ram_power_w = power_w_per_gb × memory_in_use_gb

- ``tdp_w`` and ``cores`` come from ``data/cpu_tdp.csv``, matched to the CPU
  model string in ``/proc/cpuinfo``.
- ``visible_cores`` is psutil's physical core count, capped at ``cores``, so a
  2-vCPU slice of a 96-core server is charged 2/96 of the package TDP.
- A model not in the table (a VM that reports "Intel(R) Xeon(R) Processor")
  is charged per visible core: ``tdp_w / cores`` becomes the per-core figure
  of ``data/cpu_core_power.csv`` (Green Algorithms' 12 W for "Any" CPU), and
  its low/high per-core range is shown by ``greentune doctor`` and written to
  the run's notes; the figure stays labelled estimated.
- ``utilisation`` is the CPU utilisation over each sampling interval. The
  model is linear with no idle floor, as in Green Algorithms; CodeCarbon 3.x
  instead uses a cubic curve with a 10 % floor, so our figures run lower on
  idle machines.
- ``power_w_per_gb`` comes from ``data/ram_power.csv``.

The *scope* says whose use is charged:

- ``machine`` (default): machine-wide utilisation (busy over total CPU time
  between reads, from ``psutil.cpu_times`` counted as ``psutil.cpu_percent``
  does) and memory in use (total − available), as RAPL measures whole
  packages and all DRAM. On a shared machine, other people's work is charged too.
- ``process``: the process tree rooted at ``pid`` alone — its CPU seconds
  (user + system, summed over the tree and the children it has reaped) per
  interval, divided by the logical CPUs, and its RSS. CPU time used before
  the meter started is not charged; a process orphaned out of the tree stops
  being charged. A child that lives less than the tree's refresh period (1 s)
  is charged when its parent reaps it: its energy in full, its utilisation
  and power shown capped at 100 % for that interval.

With ``children_only`` the root's own CPU seconds and RSS are left out: only
the processes it starts are charged (in ``process`` scope) and their RSS
reported (in both). `greentune measure` meters so, since its own process —
the meter's imports, its sampler thread — is not the command it was asked to
measure.

Energy is this power times each sampling interval (utilisation is an average
over the interval, so the rectangle rule is exact for the model). Peak RAM
reported in measurements is the RSS of the process tree rooted at ``pid``;
the tree is re-listed once a second (walking /proc costs ~2 ms, too much for
every 100 ms sample), the RSS of its processes is read at every sample.

psutil is imported when a host sensor is built, not with the package: the
meter imports faster, and NVML-only use (benchmarks/meter_gpu_check.py on a
bare GPU box) needs nothing beyond nvidia-ml-py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from greentune.data import read_table
from greentune.meter.scope import SCOPES, Scope
from greentune.meter.sensor import Component, Detection, Reading
from greentune.meter.snapshot import Snapshot, cpu_busy_total_s

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

    import psutil


CPUINFO_PATH = Path("/proc/cpuinfo")
_BYTES_PER_GB = 1e9
_TREE_REFRESH_S = 1.0
_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|\d+-core|@.*$", re.IGNORECASE)


@dataclass(frozen=True)
class CpuTdp:
    """One row of data/cpu_tdp.csv."""

    name: str
    vendor: str
    tdp_w: float
    cores: int | None
    source: str
    year: int


def read_cpu_tdp_table() -> list[CpuTdp]:
    """All rows of data/cpu_tdp.csv."""
    rows = read_table("cpu_tdp")
    return [
        CpuTdp(
            name=row["name"],
            vendor=row["vendor"],
            tdp_w=float(row["tdp_w"]),
            cores=int(row["cores"]) if row["cores"] else None,
            source=row["source"],
            year=int(row["year"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class CpuCorePower:
    """data/cpu_core_power.csv: watts per core for a CPU model not in cpu_tdp.csv, with its published range."""

    power_w_per_core: float
    low_w_per_core: float
    high_w_per_core: float
    source: str
    year: int


@dataclass(frozen=True)
class CpuPower:
    """What the host model charges for the visible cores at full utilisation, in watts, and on what basis.

    ``low_w``/``high_w`` bound ``full_load_w``: equal to it for a model found in
    the TDP table, the per-core range times the visible cores otherwise.
    """

    cpu_model: str
    visible_cores: int
    full_load_w: float
    low_w: float
    high_w: float
    tdp_row: CpuTdp | None
    source: str

    @property
    def basis(self) -> str:
        """One line: the TDP row used, or the per-core figure and its range."""
        if self.tdp_row is not None:
            row = self.tdp_row
            return f"TDP row '{row.name}' ({row.tdp_w:g} W, {row.cores or '?'} cores)"
        per_core_w = self.full_load_w / self.visible_cores
        low_per_core_w, high_per_core_w = self.low_w / self.visible_cores, self.high_w / self.visible_cores
        return (
            f"CPU '{self.cpu_model}' is not in the TDP table: estimated at {per_core_w:g} W per visible core "
            f"× {self.visible_cores} = {self.full_load_w:g} W at full use (per core {low_per_core_w:g}–"
            f"{high_per_core_w:g} W, i.e. {self.low_w:g}–{self.high_w:g} W); {self.source}"
        )


def read_cpu_core_power() -> CpuCorePower:
    """The row of data/cpu_core_power.csv."""
    row = read_table("cpu_core_power")[0]
    return CpuCorePower(
        power_w_per_core=float(row["power_w_per_core"]),
        low_w_per_core=float(row["low_w_per_core"]),
        high_w_per_core=float(row["high_w_per_core"]),
        source=row["source"],
        year=int(row["year"]),
    )


def cpu_power(model_name: str, physical_cores: int, table: list[CpuTdp], per_core: CpuCorePower) -> CpuPower:
    """The full-load power of the ``physical_cores`` this machine shows, for the CPU called ``model_name``."""
    row = match_cpu_tdp(model_name, table)
    if row is None:
        return CpuPower(
            cpu_model=model_name,
            visible_cores=physical_cores,
            full_load_w=per_core.power_w_per_core * physical_cores,
            low_w=per_core.low_w_per_core * physical_cores,
            high_w=per_core.high_w_per_core * physical_cores,
            tdp_row=None,
            source=f"{per_core.source} ({per_core.year})",
        )
    visible_cores = physical_cores if row.cores is None else min(physical_cores, row.cores)
    full_load_w = row.tdp_w / (row.cores or visible_cores) * visible_cores
    return CpuPower(
        cpu_model=model_name,
        visible_cores=visible_cores,
        full_load_w=full_load_w,
        low_w=full_load_w,
        high_w=full_load_w,
        tdp_row=row,
        source=f"{row.source} ({row.year})",
    )


def match_cpu_tdp(model_name: str, table: list[CpuTdp]) -> CpuTdp | None:
    """The row whose name is the longest run of whole words in ``model_name``; None when no row matches.

    Trademark signs, "CPU", "Processor", "NN-Core" and the clock suffix are
    ignored, so "Intel(R) Xeon(R) Platinum 8480+ CPU @ 2.0GHz" finds
    "Intel Xeon Platinum 8480+" and "AMD EPYC 7B13 64-Core Processor" finds
    "AMD EPYC 7B13" rather than the bare "AMD EPYC".
    """
    model_words = _words(model_name)
    matches = [row for row in table if _contains_run(model_words, _words(row.name))]
    return max(matches, key=lambda row: len(_words(row.name))) if matches else None


def cpu_model_name(cpuinfo_path: Path | None = None) -> str:
    """The ``model name`` line of ``cpuinfo_path`` (default `CPUINFO_PATH`), or platform's processor string, or
    "unknown"."""
    try:
        for line in (cpuinfo_path or CPUINFO_PATH).read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def ram_power_w_per_gb() -> tuple[float, str]:
    """Watts per GB of memory in use, and the source it comes from (data/ram_power.csv)."""
    row = read_table("ram_power")[0]
    return float(row["power_w_per_gb"]), f"{row['source']} ({row['year']})"


def process_tree(pid: int) -> list[psutil.Process]:
    """psutil processes of ``pid`` and all its descendants (empty when ``pid`` is gone)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def rss_bytes(processes: list[psutil.Process]) -> int:
    """Summed resident memory of ``processes``, bytes (processes that have ended are skipped)."""
    import psutil

    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def machine_cpu_s() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine so far (psutil's cumulative CPU times)."""
    import psutil

    return cpu_busy_total_s(psutil.cpu_times()._asdict())


def tree_cpu_s(processes: list[psutil.Process], charge_root: bool = True) -> float:
    """CPU seconds (user + system) of ``processes`` (a tree, root first) and of the children each has reaped;
    without ``charge_root``, the root's own seconds are left out (its reaped children's still count).

    Counting reaped children keeps the sum continuous when a child ends (its
    time moves into its parent's ``children_*`` fields), and catches children
    that started and ended between two listings of the tree.
    """
    import psutil

    total_s = 0.0
    for position, process in enumerate(processes):
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        if charge_root or position > 0:
            total_s += times.user + times.system
        total_s += times.children_user + times.children_system
    return total_s


class HostSensor:
    """CPU utilisation and memory of the machine or of a process tree; estimated ``cpu`` and ``ram`` energy."""

    name = "host"

    def __init__(
        self,
        estimate_cpu: bool,
        estimate_ram: bool,
        pid: int | None = None,
        scope: Scope = Scope.MACHINE,
        since: Snapshot | None = None,
        children_only: bool = False,
    ) -> None:
        """Estimate the components that nothing else measures; ``pid`` roots the process tree (default: this
        process), whose RSS is always reported and whose use alone is charged in ``process`` scope;
        ``children_only`` leaves the root itself out of both (see the module docstring).

        With ``since``, the first read covers the time from that snapshot: its energy, and the CPU time used
        since (the process tree's only when it is this process's, which was the whole tree then).
        """
        import psutil

        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
        self.scope = scope
        self.pid = os.getpid() if pid is None else pid
        self.children_only = children_only
        self.logical_cpus = psutil.cpu_count() or 1
        physical_cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
        self.cpu = cpu_power(cpu_model_name(), physical_cores, read_cpu_tdp_table(), read_cpu_core_power())
        self.ram_w_per_gb, self.ram_source = ram_power_w_per_gb()
        self.components: list[Component] = []
        if estimate_cpu:
            self.components.append(Component("cpu", "cpu", "estimated"))
        if estimate_ram:
            self.components.append(Component("ram", "ram", "estimated"))
        self._energy_j = {component.name: 0.0 for component in self.components}
        self._last_s: float | None = None if since is None else since.mono_s
        self._tree: list[psutil.Process] = []
        self._tree_listed_s = float("-inf")
        self._tree_cpu_s: float | None = None
        if since is not None and self.pid == os.getpid():
            self._tree_cpu_s = since.children_cpu_s + (0.0 if children_only else since.own_cpu_s)
        self._machine_cpu_s = machine_cpu_s() if since is None or since.machine_cpu_s is None else since.machine_cpu_s

    @property
    def notes(self) -> list[str]:
        """What a record should say about this sensor's estimates: the per-core basis of an unknown CPU."""
        estimates_cpu = any(component.kind == "cpu" for component in self.components)
        return [f"CPU energy: {self.cpu.basis}"] if estimates_cpu and self.cpu.tdp_row is None else []

    def cpu_power_w(self, util_pct: float) -> float:
        """Estimated CPU power at a machine utilisation (Green Algorithms model, see module docstring)."""
        return self.cpu.full_load_w * util_pct / 100.0

    def ram_power_w(self, used_bytes: int) -> float:
        """Estimated RAM power for memory in use."""
        return self.ram_w_per_gb * used_bytes / _BYTES_PER_GB

    def read(self, now_s: float) -> Reading:
        """Utilisation since the previous read, RSS, and the estimated energy so far."""
        import psutil

        interval_s = None if self._last_s is None else max(now_s - self._last_s, 0.0)
        self._last_s = now_s
        if now_s - self._tree_listed_s >= _TREE_REFRESH_S:
            self._tree, self._tree_listed_s = process_tree(self.pid), now_s
        tree_rss_bytes = rss_bytes(self._tree[1:] if self.children_only else self._tree)
        if self.scope == "process":
            util_pct = self._tree_util_pct(interval_s)
            used_bytes = tree_rss_bytes
        else:
            util_pct = self._machine_util_pct()
            memory = psutil.virtual_memory()
            used_bytes = memory.total - memory.available
        power_w: dict[str, float] = {}
        if "cpu" in self._energy_j:
            power_w["cpu"] = self.cpu_power_w(util_pct)
        if "ram" in self._energy_j:
            power_w["ram"] = self.ram_power_w(used_bytes)
        if interval_s is not None:
            for name, watts in power_w.items():
                self._energy_j[name] += watts * interval_s
        if util_pct > 100.0:  # a burst of reaped children's CPU time: counted in full above, shown capped
            util_pct = 100.0
            if "cpu" in power_w:
                power_w["cpu"] = self.cpu_power_w(util_pct)
        return Reading(
            energy_j=dict(self._energy_j),
            power_w=power_w,
            util_pct={"cpu": util_pct},
            memory_bytes={"ram": tree_rss_bytes},
        )

    def _machine_util_pct(self) -> float:
        """The machine's busy share of CPU time since the previous read, percent (0 when no time passed)."""
        (previous_busy_s, previous_total_s), self._machine_cpu_s = self._machine_cpu_s, machine_cpu_s()
        busy_s, total_s = self._machine_cpu_s
        if total_s <= previous_total_s:
            return 0.0
        return min(max(100.0 * (busy_s - previous_busy_s) / (total_s - previous_total_s), 0.0), 100.0)

    def _tree_util_pct(self, interval_s: float | None) -> float:
        """The process tree's CPU seconds since the previous read, as a percentage of all logical CPUs.

        Over 100 % when children that ended since the previous read bring their CPU time in at once.
        """
        previous_s, self._tree_cpu_s = self._tree_cpu_s, tree_cpu_s(self._tree, charge_root=not self.children_only)
        if previous_s is None or not interval_s:
            return 0.0  # the first read sets the baseline: earlier CPU time is not this meter's
        used_s = max(self._tree_cpu_s - previous_s, 0.0)
        return 100.0 * used_s / (interval_s * self.logical_cpus)

    def describe(self) -> dict[str, Any]:
        """CPU model, the TDP row used, and the power models' sources."""
        return {
            "scope": self.scope,
            "charges_root_process": not self.children_only,
            "cpu_model": self.cpu.cpu_model,
            "cpu_tdp_row": None if self.cpu.tdp_row is None else self.cpu.tdp_row.name,
            "cpu_full_load_w": self.cpu.full_load_w,
            "cpu_full_load_range_w": [self.cpu.low_w, self.cpu.high_w],
            "cpu_power_source": self.cpu.source,
            "visible_cores": self.cpu.visible_cores,
            "ram_power_w_per_gb": self.ram_w_per_gb,
            "ram_power_source": self.ram_source,
            "estimates": [component.name for component in self.components],
        }

    def close(self) -> None:
        """Nothing to release."""


def detect(
    estimate_cpu: bool,
    estimate_ram: bool,
    pid: int | None = None,
    scope: Scope = Scope.MACHINE,
    since: Snapshot | None = None,
    children_only: bool = False,
) -> Detection:
    """The host sensor (available wherever psutil is installed), counting from ``since`` when given."""
    try:
        sensor = HostSensor(estimate_cpu, estimate_ram, pid, scope, since, children_only)
    except ImportError:
        return Detection("host", None, "psutil is not installed: no CPU/RAM figures", "pip install psutil")
    cpu = sensor.cpu
    matched = cpu.basis if cpu.tdp_row is None else f"CPU '{cpu.cpu_model}': {cpu.basis}"
    tree = "the CPU time and RSS of the processes it starts" if children_only else "the process tree's CPU time and RSS"
    use = tree if scope == "process" else "machine CPU utilisation and memory"
    detail = f"{matched}; {cpu.visible_cores} core(s) visible; charges {use}"
    advice = "" if cpu.tdp_row is not None else "add your CPU to greentune/data/cpu_tdp.csv for a narrower estimate"
    return Detection("host", sensor, detail, advice)


def _words(model_name: str) -> list[str]:
    """Lower-case words of a CPU model string, vendor noise removed."""
    return _NOISE.sub(" ", model_name).lower().split()


def _contains_run(words: list[str], run: list[str]) -> bool:
    """Whether ``run`` occurs in ``words`` as consecutive whole words."""
    return any(words[start : start + len(run)] == run for start in range(len(words) - len(run) + 1))
