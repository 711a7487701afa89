"""Process scope: only the metered process tree's CPU time and memory are charged, reaped children included."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from greentune.meter import Meter
from greentune.meter.host import HostSensor

SLEEPER = "import time; time.sleep(60)"
SPINNER = "while True: pass"
# a child shorter-lived than the sensor's 1 s tree refresh: it may never be listed while it runs
PARENT_OF_A_SHORT_CHILD = (
    "import subprocess, sys, time; time.sleep(0.3); "
    "subprocess.run([sys.executable, '-c', 'sum(range(2 * 10**7))']); time.sleep(60)"
)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def start(processes: list[subprocess.Popen], code: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", code])
    processes.append(process)
    return process


def read_for(sensors: list[HostSensor], seconds: float, until=lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        time.sleep(0.1)
        for sensor in sensors:
            sensor.read(time.monotonic())
    for sensor in sensors:
        sensor.read(time.monotonic())


def all_cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def cpu_j(sensor: HostSensor) -> float:
    return sensor.read(time.monotonic()).energy_j["cpu"]


def test_process_scope_does_not_charge_a_busy_neighbour(processes) -> None:
    idle = start(processes, SLEEPER)
    start(processes, SPINNER)  # a sibling of `idle`, outside its tree
    machine = HostSensor(estimate_cpu=True, estimate_ram=True, pid=idle.pid, scope="machine")
    tree = HostSensor(estimate_cpu=True, estimate_ram=True, pid=idle.pid, scope="process")
    for sensor in (machine, tree):
        sensor.read(time.monotonic())
    read_for([machine, tree], 1.5)
    machine_reading, tree_reading = machine.read(time.monotonic()), tree.read(time.monotonic())
    assert machine_reading.energy_j["cpu"] > 0
    assert tree_reading.energy_j["cpu"] < 0.05 * machine_reading.energy_j["cpu"]
    assert tree_reading.energy_j["ram"] < machine_reading.energy_j["ram"]  # a sleeping Python's RSS vs all used RAM
    assert machine.describe()["scope"] == "machine" and tree.describe()["scope"] == "process"


def test_process_scope_charges_the_trees_cpu_seconds_including_a_short_lived_child(processes) -> None:
    # The child lives less than the sensor's 1 s tree refresh, so it may never be listed while it runs:
    # its CPU time must still arrive, through the parent's reaped-children times.
    parent = start(processes, PARENT_OF_A_SHORT_CHILD)
    handle = psutil.Process(parent.pid)
    sensor = HostSensor(estimate_cpu=True, estimate_ram=False, pid=parent.pid, scope="process")
    sensor.read(time.monotonic())
    baseline_s = all_cpu_s(handle)
    read_for([sensor], 30.0, until=lambda: handle.cpu_times().children_user > 0)
    used_s = all_cpu_s(handle) - baseline_s
    assert handle.cpu_times().children_user > 0.1  # the child did run and was reaped
    expected_j = sensor.cpu_power_w(100.0) * used_s / sensor.logical_cpus
    assert cpu_j(sensor) == pytest.approx(expected_j, rel=0.05)


CHILDREN_ONLY = """
import json, os, subprocess, sys, time
from greentune.meter.host import HostSensor
sensor = HostSensor(estimate_cpu=True, estimate_ram=True, scope="process", children_only=True)
sensor.read(time.monotonic())
before = os.times()
sum(range(3 * 10**7))  # the root's own CPU time: not charged
subprocess.run([sys.executable, "-c", "sum(range(2 * 10**7))"], check=True)  # a child's: charged once reaped
after = os.times()
reading = sensor.read(time.monotonic())
print(json.dumps({
    "own_s": (after.user + after.system) - (before.user + before.system),
    "children_s": (after.children_user + after.children_system) - (before.children_user + before.children_system),
    "cpu_j": reading.energy_j["cpu"], "ram_j": reading.energy_j["ram"], "memory": reading.memory_bytes,
    "full_load_w": sensor.cpu_power_w(100.0), "logical_cpus": sensor.logical_cpus,
    "charges_root": sensor.describe()["charges_root_process"],
}))
"""


def test_children_only_charges_the_children_and_not_the_root_itself() -> None:
    # in a fresh process: the test runner's own leftover children would be in its tree
    result = subprocess.run([sys.executable, "-c", CHILDREN_ONLY], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["own_s"] > 0.1 and out["children_s"] > 0.1  # a sensor that charged the root would be off by own_s
    assert out["cpu_j"] == pytest.approx(out["full_load_w"] * out["children_s"] / out["logical_cpus"])
    assert out["memory"] == {"ram": 0} and out["ram_j"] == 0.0  # the root's RSS is not the tree's
    assert out["charges_root"] is False


def test_process_scope_shows_utilisation_capped_at_100_percent(processes) -> None:
    parent = start(processes, PARENT_OF_A_SHORT_CHILD)
    sensor = HostSensor(estimate_cpu=True, estimate_ram=False, pid=parent.pid, scope="process")
    sensor.read(time.monotonic())
    handle = psutil.Process(parent.pid)
    seen: list[float] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and handle.cpu_times().children_user == 0:
        time.sleep(0.05)
        seen.append(sensor.read(time.monotonic()).util_pct["cpu"])
    seen.append(sensor.read(time.monotonic()).util_pct["cpu"])
    assert max(seen) <= 100.0
    assert sensor.read(time.monotonic()).power_w["cpu"] <= sensor.cpu_power_w(100.0)


def test_an_unknown_scope_is_refused() -> None:
    with pytest.raises(ValueError, match="scope must be one of machine, process"):
        HostSensor(estimate_cpu=True, estimate_ram=True, scope="node")  # type: ignore[arg-type]


def test_a_process_scope_meter_leaves_rapl_out_and_says_so_in_its_log(tmp_path) -> None:
    with Meter(interval_ms=50, log_path=tmp_path / "meter.jsonl", scope="process") as meter:
        with meter.window("work"):
            sum(range(10**6))
    assert "rapl" not in meter.hardware["sensors"]
    assert meter.hardware["sensors"]["host"]["scope"] == "process"
