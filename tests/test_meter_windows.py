"""Meter windows: nesting, overlap, errors, the timeline, and a real run on this machine's host sensor."""

from typing import Any

import pytest

from greentune.meter import Measurement, Meter
from greentune.meter.sensor import Component, Reading


class CounterTrace:
    """A sensor replaying cumulative counters, one row per read: {component: joules}."""

    name = "trace"

    def __init__(self, rows: list[dict[str, float]], components: list[Component]) -> None:
        self.rows = rows
        self.components = components
        self.reads = 0

    def read(self, now_s: float) -> Reading:
        row = self.rows[min(self.reads, len(self.rows) - 1)]
        self.reads += 1
        return Reading(energy_j=dict(row), util_pct={"cpu": 50.0}, memory_bytes={"ram": 1000 * self.reads})

    def describe(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


CPU_RAM = [Component("cpu:package-0", "cpu", "measured"), Component("ram", "ram", "estimated")]


def trace(*cpu_j: float) -> CounterTrace:
    return CounterTrace([{"cpu:package-0": j, "ram": j / 10} for j in cpu_j], CPU_RAM)


def test_windows_nest_and_overlap() -> None:
    # reads: start=0, begin a=1, begin b=2, end a=3, begin c=4, end c=5, end b=6
    sensor = trace(100, 110, 130, 170, 200, 260, 300)
    with Meter(interval_ms=60_000, sensors=[sensor]) as meter:
        meter.begin_window("a")
        meter.begin_window("b")
        a = meter.end_window("a")
        with meter.window("c") as c:
            pass
        b = meter.end_window("b")
    assert a.energy_j == pytest.approx((170 - 110) * 1.1)
    assert c.measurement.energy_j == pytest.approx((260 - 200) * 1.1)
    assert b.energy_j == pytest.approx((300 - 130) * 1.1)
    assert b.duration_s >= c.measurement.duration_s
    assert [m.name for m in meter.measurements] == ["a", "c", "b"]


def test_components_keep_their_source_and_totals_sum_them() -> None:
    with Meter(interval_ms=60_000, sensors=[trace(0, 10, 30)]) as meter:
        with meter.window("w") as w:
            pass
    m = w.measurement
    assert [(c.name, c.kind, c.source) for c in m.components] == [
        ("cpu:package-0", "cpu", "measured"),
        ("ram", "ram", "estimated"),
    ]
    assert m.energy_j == pytest.approx(20 + 2)
    assert m.energy_kwh == pytest.approx(22 / 3.6e6)
    assert m.components[0].energy_kwh == pytest.approx(20 / 3.6e6)
    assert m.avg_cpu_util_pct == pytest.approx(50.0)
    assert m.avg_gpu_util_pct is None and m.peak_vram_bytes is None
    assert m.peak_ram_bytes == 3000


def test_window_measurement_is_set_even_when_the_block_raises() -> None:
    with Meter(interval_ms=60_000, sensors=[trace(0, 5, 9)]) as meter:
        with pytest.raises(ZeroDivisionError):
            with meter.window("boom") as w:
                raise ZeroDivisionError
    assert w.measurement is not None and w.measurement.energy_j == pytest.approx(4 * 1.1)


def test_misuse_is_reported() -> None:
    meter = Meter(interval_ms=60_000, sensors=[trace(0)])
    with pytest.raises(RuntimeError, match="start"):
        meter.begin_window("w")
    with meter:
        meter.begin_window("w")
        with pytest.raises(ValueError, match="already open"):
            meter.begin_window("w")
        with pytest.raises(ValueError, match="no open window"):
            meter.end_window("other")
    with pytest.raises(RuntimeError, match="once"):
        meter.start()
    with pytest.raises(ValueError):
        Meter(interval_ms=0, sensors=[])


def test_windows_left_open_are_ended_as_partial_at_stop() -> None:
    with Meter(interval_ms=60_000, sensors=[trace(0, 1, 4)]) as meter:
        meter.begin_window("left-open")
    (measurement,) = meter.measurements
    assert measurement.partial and measurement.energy_j == pytest.approx(3 * 1.1)


def test_measurement_round_trips_through_a_dict() -> None:
    with Meter(interval_ms=60_000, sensors=[trace(0, 2, 7)]) as meter:
        with meter.window("w") as w:
            pass
    data = w.measurement.to_dict()
    assert {"duration_s", "energy_j", "energy_kwh", "avg_power_w", "peak_power_w", "components"} <= set(data)
    assert Measurement.from_dict(data) == w.measurement


def test_timeline_is_bounded() -> None:
    with Meter(interval_ms=60_000, sensors=[trace(*range(50))], timeline_max_samples=5) as meter:
        for index in range(10):
            with meter.window(f"w{index}"):
                pass
        timeline = meter.timeline()
    assert len(timeline) == 5
    assert [s.t_unix_s for s in timeline] == sorted(s.t_unix_s for s in timeline)
    assert set(timeline[-1].power_w) == {"cpu:package-0", "ram"}


def test_real_host_sensor_measures_a_cpu_workload() -> None:
    with Meter(interval_ms=20) as meter:
        with meter.window("work") as w:
            sum(range(3 * 10**6))
        samples = meter.timeline()
    m = w.measurement
    assert m.duration_s > 0
    assert {c.kind for c in m.components} >= {"cpu", "ram"}
    assert all(c.source in ("measured", "estimated") for c in m.components)
    assert m.energy_j > 0
    assert m.peak_ram_bytes and m.peak_ram_bytes > 10_000_000
    assert samples and all(s.cpu_util_pct is not None for s in samples)
