"""NVML integration logic, fed a counter trace through the GpuDevice interface (NVML itself is not under test)."""

import sys
from pathlib import Path

import pytest

from greentune.meter import Meter, nvml
from greentune.meter.nvml import NvmlSensor, detect, visible_gpu_indices

# A counter trace in NVML's units, shaped like an H100 under a training load:
# (total energy mJ, power mW, utilisation %, memory used bytes), one row per read.
COUNTER_TRACE = [
    (81_234_567_000, 312_000, 0, 2_000_000_000),
    (81_234_598_200, 640_000, 97, 61_000_000_000),
    (81_234_662_300, 655_000, 99, 61_500_000_000),
    (81_234_727_900, 648_000, 98, 61_500_000_000),
    (81_234_792_800, 650_000, 99, 62_000_000_000),
    (81_234_857_900, 402_000, 40, 62_000_000_000),
    (81_234_898_100, 120_000, 0, 62_000_000_000),
]


class ReplayGpu:
    """Returns the next recorded row at every read of the energy counter (or power, when there is no counter)."""

    model = "NVIDIA H100 80GB HBM3"

    def __init__(self, trace: list[tuple[int, int, int, int]], has_energy_counter: bool = True) -> None:
        self.trace = trace
        self.has_energy_counter = has_energy_counter
        self.position = -1

    def _row(self) -> tuple[int, int, int, int]:
        return self.trace[min(self.position, len(self.trace) - 1)]

    def total_energy_mj(self) -> int:
        return self._row()[0]

    def power_mw(self) -> int:
        self.position += 1  # power is read first in every NvmlSensor.read
        return self._row()[1]

    def utilization_pct(self) -> float:
        return float(self._row()[2])

    def memory_used_bytes(self) -> int:
        return self._row()[3]

    def power_limit_mw(self) -> int | None:
        return 700_000


def test_counter_deltas_become_joules() -> None:
    sensor = NvmlSensor([ReplayGpu(COUNTER_TRACE)])
    energies = [sensor.read(float(step)).energy_j["gpu:0"] for step in range(len(COUNTER_TRACE))]
    assert energies == [pytest.approx((row[0] - COUNTER_TRACE[0][0]) / 1000) for row in COUNTER_TRACE]


def test_without_counter_power_samples_are_integrated_with_the_trapezoid_rule() -> None:
    sensor = NvmlSensor([ReplayGpu(COUNTER_TRACE, has_energy_counter=False)])
    times_s = [0.0, 0.1, 0.2, 0.35, 0.45, 0.55, 0.65]
    energies = [sensor.read(t).energy_j["gpu:0"] for t in times_s]
    expected, total = [0.0], 0.0
    for i in range(1, len(times_s)):
        total += (COUNTER_TRACE[i - 1][1] + COUNTER_TRACE[i][1]) / 2 / 1000 * (times_s[i] - times_s[i - 1])
        expected.append(total)
    assert energies == [pytest.approx(e) for e in expected]


def test_nested_and_overlapping_windows_take_counter_differences() -> None:
    # The sampler period is far longer than the test: reads happen only at start and at window boundaries.
    sensor = NvmlSensor([ReplayGpu(COUNTER_TRACE)])
    counter_j = [(row[0] - COUNTER_TRACE[0][0]) / 1000 for row in COUNTER_TRACE]
    with Meter(interval_ms=60_000, sensors=[sensor]) as meter:  # read 0
        meter.begin_window("outer")  # read 1
        meter.begin_window("inner")  # read 2
        meter.begin_window("overlap")  # read 3
        inner = meter.end_window("inner")  # read 4
        outer = meter.end_window("outer")  # read 5
        overlap = meter.end_window("overlap")  # read 6
    assert outer.energy_j == pytest.approx(counter_j[5] - counter_j[1])
    assert inner.energy_j == pytest.approx(counter_j[4] - counter_j[2])
    assert overlap.energy_j == pytest.approx(counter_j[6] - counter_j[3])
    assert [(c.name, c.kind, c.source) for c in outer.components] == [("gpu:0", "gpu", "measured")]
    assert outer.peak_vram_bytes == 62_000_000_000
    assert outer.peak_power_w == pytest.approx(655.0)
    assert 40 <= outer.avg_gpu_util_pct <= 99


def test_power_integration_through_the_meter_matches_power_times_duration() -> None:
    constant = [(0, 250_000, 50, 1_000)] * 10
    with Meter(interval_ms=60_000, sensors=[NvmlSensor([ReplayGpu(constant, has_energy_counter=False)])]) as meter:
        with meter.window("w") as window:
            sum(range(100_000))
    assert window.measurement.energy_j == pytest.approx(250.0 * window.measurement.duration_s)
    assert window.measurement.avg_power_w == pytest.approx(250.0)


def test_two_gpus_are_summed_into_the_total() -> None:
    second = [(row[0] * 2, row[1], row[2], row[3]) for row in COUNTER_TRACE]
    with Meter(interval_ms=60_000, sensors=[NvmlSensor([ReplayGpu(COUNTER_TRACE), ReplayGpu(second)])]) as meter:
        with meter.window("w") as window:
            pass
    by_name = {c.name: c.energy_j for c in window.measurement.components}
    assert set(by_name) == {"gpu:0", "gpu:1"}
    assert window.measurement.energy_j == pytest.approx(by_name["gpu:0"] + by_name["gpu:1"])
    assert by_name["gpu:1"] == pytest.approx(2 * by_name["gpu:0"])


UUIDS = ["GPU-1111aaaa-0000", "GPU-2222bbbb-0000", "GPU-3333cccc-0000", "GPU-4444dddd-0000"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, [0, 1, 2, 3]),
        ("", []),
        ("2,0", [2, 0]),
        ("1, 3", [1, 3]),
        ("GPU-3333,GPU-1111aaaa-0000", [2, 0]),
        ("0,7,1", [0]),  # CUDA stops at the first invalid entry
        ("GPU-,1", []),  # ambiguous UUID prefix
        ("MIG-abcd,0", []),  # MIG slices cannot be metered
        ("1,1", [1]),
    ],
)
def test_cuda_visible_devices(value: str | None, expected: list[int]) -> None:
    assert visible_gpu_indices(value, UUIDS) == expected


def test_without_a_driver_pynvml_is_not_even_imported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(nvml.sys, "platform", "linux")
    monkeypatch.setattr(nvml, "_DRIVER_PATHS", (tmp_path / "no-nvidiactl",))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    detection = detect()
    assert (detection.sensor_name, detection.sensor) == ("nvml", None)
    assert detection.detail == "no NVIDIA driver here (no /dev/nvidiactl), so no GPU to measure"
    assert detection.advice == "install the NVIDIA driver"
    assert "pynvml" not in sys.modules


@pytest.fixture
def driver_present(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A driver's device node exists (a fake one), so detection goes on to NVML."""
    (tmp_path / "nvidiactl").touch()
    monkeypatch.setattr(nvml, "_DRIVER_PATHS", (tmp_path / "nvidiactl",))


@pytest.mark.usefixtures("driver_present")
def test_detect_explains_a_missing_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def no_library() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_library)
    detection = detect()
    assert (detection.sensor_name, detection.sensor) == ("nvml", None)
    assert detection.detail == "NVML did not start: NVML Shared Library Not Found"
    assert detection.advice == "no NVIDIA driver here (libnvidia-ml.so missing); install the driver on a GPU machine"


@pytest.mark.usefixtures("driver_present")
@pytest.mark.parametrize(
    ("count", "visible", "detail"),
    [(0, None, "NVML found no GPU"), (1, "", "CUDA_VISIBLE_DEVICES hides every GPU")],
)
def test_detect_explains_a_driver_without_visible_gpus(
    monkeypatch: pytest.MonkeyPatch, count: int, visible: str | None, detail: str
) -> None:
    import pynvml

    shutdowns = []
    monkeypatch.setattr(pynvml, "nvmlInit", lambda: None)
    monkeypatch.setattr(pynvml, "nvmlShutdown", lambda: shutdowns.append(True))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetCount", lambda: count)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetHandleByIndex", lambda index: f"handle-{index}")
    monkeypatch.setattr(pynvml, "nvmlDeviceGetUUID", lambda handle: UUIDS[0])
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    detection = detect()
    assert (detection.sensor, detection.detail, detection.advice) == (
        None,
        detail,
        "check nvidia-smi and CUDA_VISIBLE_DEVICES",
    )
    assert shutdowns == [True]  # NVML is shut down again when there is nothing to meter
