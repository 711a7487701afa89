"""Starting a meter from a standard-library snapshot: what the snapshot reads, and sensors and windows that
count from it (so `greentune measure` can start the command before it imports the meter)."""

import collections
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from fake_host import fake_cpu
from greentune import meter as meter_package
from greentune.meter import Meter, host, read_log, scope
from greentune.meter.rapl import RaplSensor, find_zones
from greentune.meter.snapshot import (
    Snapshot,
    nvidia_present,
    read_machine_cpu_s,
    read_rapl_counters,
    take_snapshot,
)
from test_meter_rapl import make_unreadable, make_zone, set_energy
from test_meter_windows import CPU_RAM, CounterTrace

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks
PROC_STAT = "cpu  100 20 30 400 50 6 7 8 10 2\ncpu0 50 10 15 200 25 3 3 4 5 1\nintr 12345\n"


def snapshot(
    mono_s: float, machine_cpu_s: tuple[float, float] | None = None, own_cpu_s: float = 0.0, children_cpu_s: float = 0.0
) -> Snapshot:
    return Snapshot(mono_s, 1_000_000.0, {}, machine_cpu_s, own_cpu_s, children_cpu_s)


def test_machine_cpu_time_is_read_from_the_cpu_line_as_psutil_counts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stat").write_text(PROC_STAT)
    # total = 633 ticks − guest 10 − guest_nice 2 (already inside user and nice) = 621; busy = 621 − idle 400 −
    # iowait 50 = 171
    busy_s, total_s = read_machine_cpu_s(str(tmp_path / "stat"))
    assert (busy_s, total_s) == pytest.approx((171 / TICKS_PER_S, 621 / TICKS_PER_S), rel=1e-12)
    # the same file read through psutil, as the host sensor reads it later, gives the same two figures
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(tmp_path))
    assert host.machine_cpu_s() == pytest.approx((busy_s, total_s), rel=1e-12)


def test_no_cpu_line_means_no_machine_cpu_time(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("intr 12345\n")
    assert read_machine_cpu_s(str(tmp_path / "stat")) is None
    assert read_machine_cpu_s(str(tmp_path / "missing")) is None


def test_rapl_counters_of_every_readable_zone_are_read(tmp_path: Path) -> None:
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1_000)
    make_zone(tmp_path, "intel-rapl:0:1", "dram", 2_000)
    make_zone(tmp_path, "amd-rapl:1", "package-1", 3_000)
    make_zone(tmp_path, "dtpm", "dtpm", 4_000)  # not a RAPL zone
    make_unreadable(make_zone(tmp_path, "intel-rapl:2", "package-2", 5_000) / "energy_uj")
    assert read_rapl_counters(str(tmp_path)) == {
        str(tmp_path / "intel-rapl:0"): 1_000,
        str(tmp_path / "intel-rapl:0:1"): 2_000,
        str(tmp_path / "amd-rapl:1"): 3_000,
    }
    assert read_rapl_counters(str(tmp_path / "absent")) == {}


def test_a_rapl_sensor_counts_from_the_snapshot_across_a_wrap(tmp_path: Path) -> None:
    package = make_zone(tmp_path, "intel-rapl:0", "package-0", 3_000_000, max_uj=4_000_000)
    dram = make_zone(tmp_path, "intel-rapl:0:1", "dram", 7_000)
    since = take_snapshot(str(tmp_path))
    set_energy(package, 500_000)  # wrapped between the snapshot and the sensor
    late = make_zone(tmp_path, "intel-rapl:1", "package-1", 100_000)  # not in the snapshot: counts from creation
    set_energy(dram, 9_000)
    sensor = RaplSensor(find_zones(tmp_path), since=since)
    set_energy(package, 1_000_000)
    set_energy(late, 350_000)
    # package-0: 1_000_000 + 4_000_000 (one wrap) − 3_000_000 = 2 J; dram: 9_000 − 7_000 = 0.002 J;
    # package-1: 350_000 − 100_000 = 0.25 J
    assert sensor.read(0.0).energy_j == {"cpu:package-0": 2.0, "cpu:package-1": 0.25, "ram:package-0": 0.002}


def test_without_a_snapshot_a_rapl_sensor_counts_from_its_creation(tmp_path: Path) -> None:
    package = make_zone(tmp_path, "intel-rapl:0", "package-0", 3_000_000)
    sensor = RaplSensor(find_zones(tmp_path))
    set_energy(package, 3_500_000)
    assert sensor.read(0.0).energy_j == {"cpu:package-0": 0.5}


def test_the_host_model_charges_the_time_since_the_snapshot_at_its_first_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an EPYC 7763 (280 W, 64 cores) seen with 2 cores: 8.75 W at full use
    fake_cpu(monkeypatch, tmp_path, "AMD EPYC 7763 64-Core Processor", 2)
    times = collections.namedtuple("times", ["user", "idle"])
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: times(user=30.0, idle=60.0))
    sensor = host.HostSensor(estimate_cpu=True, estimate_ram=False, since=snapshot(100.0, machine_cpu_s=(10.0, 40.0)))
    # since the snapshot: busy 30 − 10 = 20 s of 90 − 40 = 50 s, 40 %: 3.5 W for the 10 s to the first read
    reading = sensor.read(110.0)
    assert reading.util_pct == {"cpu": pytest.approx(40.0)}
    assert reading.energy_j == {"cpu": pytest.approx(35.0)}
    unseeded = host.HostSensor(estimate_cpu=True, estimate_ram=False)
    assert unseeded.read(110.0).energy_j == {"cpu": 0.0}  # its first read is only the baseline


def test_in_process_scope_our_cpu_time_at_the_snapshot_is_the_trees_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cpu(monkeypatch, tmp_path, "AMD EPYC 7763 64-Core Processor", 2)
    # the tree's CPU seconds now: 12 with the root's own, 4 of them its children's (reaped or alive)
    monkeypatch.setattr(host, "tree_cpu_s", lambda processes, charge_root: 12.0 if charge_root else 4.0)
    since = snapshot(100.0, own_cpu_s=1.5, children_cpu_s=0.5)
    sensor = host.HostSensor(estimate_cpu=True, estimate_ram=False, scope=scope.Scope.PROCESS, since=since)
    sensor.logical_cpus = 4
    # 12 − (1.5 + 0.5) = 10 CPU seconds in 10 s on 4 logical CPUs: 25 % of 8.75 W for 10 s
    assert sensor.read(110.0).energy_j == {"cpu": pytest.approx(21.875)}
    children = host.HostSensor(
        estimate_cpu=True, estimate_ram=False, scope=scope.Scope.PROCESS, since=since, children_only=True
    )
    children.logical_cpus = 4
    # 4 − 0.5 = 3.5 CPU seconds in 10 s on 4 logical CPUs: 8.75 % of 8.75 W for 10 s
    assert children.read(110.0).energy_j == {"cpu": pytest.approx(7.65625)}
    # another process's tree did not start at our snapshot: its first read is only its baseline
    other = host.HostSensor(estimate_cpu=True, estimate_ram=False, pid=1, scope=scope.Scope.PROCESS, since=since)
    assert other.read(110.0).energy_j == {"cpu": 0.0}


def test_a_window_opened_at_start_begins_at_the_snapshot(tmp_path: Path) -> None:
    # the sensor counts from the snapshot: 5 J of CPU (0.5 J of RAM) were used before the meter started
    sensor = CounterTrace([{"cpu:package-0": j, "ram": j / 10} for j in (5, 7, 12)], CPU_RAM)
    since = Snapshot(time.monotonic() - 2.0, time.time() - 2.0, {}, None, 0.0, 0.0)
    meter = Meter(interval_ms=60_000, sensors=[sensor], log_path=tmp_path / "meter.jsonl", since=since)
    meter.start(window="command")
    meter.begin_window("later")
    later = meter.end_window("later")
    command = meter.end_window("command")
    meter.stop()
    # reads: start 5, begin later 7, end later 12, end command 12
    assert command.energy_j == pytest.approx(12 * 1.1)
    assert later.energy_j == pytest.approx(5 * 1.1)
    assert command.start_unix_s == since.unix_s and command.duration_s >= 2.0
    records = read_log(tmp_path / "meter.jsonl")
    assert [record["type"] for record in records[:4]] == ["meter_start", "sample", "window_begin", "sample"]
    assert records[0]["t_unix_s"] == records[1]["t_unix_s"] == records[2]["t_unix_s"] == since.unix_s
    assert records[1]["energy_j"] == {"cpu:package-0": 0.0, "ram": 0.0}
    assert records[3]["energy_j"] == {"cpu:package-0": 5.0, "ram": 0.5}


def test_nvidia_is_present_where_its_device_or_driver_shows(tmp_path: Path) -> None:
    (tmp_path / "nvidiactl").touch()
    assert nvidia_present((str(tmp_path / "absent"), str(tmp_path / "nvidiactl"))) is True
    assert nvidia_present((str(tmp_path / "absent"),)) is False


def test_the_package_names_resolve_lazily_and_the_measure_path_imports_no_meter() -> None:
    assert sorted(meter_package.__all__) == sorted(meter_package._HOME_MODULE)
    resolved = {name: getattr(meter_package, name) for name in meter_package.__all__}  # each from its module
    assert resolved["Scope"] is scope.Scope and resolved["SCOPES"] == ("machine", "process")
    with pytest.raises(AttributeError, match="no attribute 'Metre'"):
        _ = meter_package.Metre
    # what `greentune measure` imports before it starts the command: none of the meter's heavy modules
    heavy = ("psutil", "dataclasses", "typing", "greentune.meter.meter", "greentune.meter.host")
    code = (
        f"import sys, greentune.cli.app, greentune.cli.measure_core; print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
