"""NVIDIA GPUs through NVML (package nvidia-ml-py, imported lazily).

Energy comes from ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since
the driver loaded; Volta and newer). Where a GPU does not support that
counter, power samples (``nvmlDeviceGetPowerUsage``, milliwatts) are
integrated with the trapezoid rule at every read, so the `Meter`'s background
sampler (≤ 100 ms) sets the integration step. Either way the figure is
``measured``.

Only the GPUs visible to CUDA are metered: ``CUDA_VISIBLE_DEVICES`` is parsed
the way the CUDA runtime does (indices or ``GPU-`` UUID prefixes, in the
listed order, stopping at the first invalid entry) and component ``gpu:N``
is the N-th visible GPU, as the DL framework numbers it.

`NvmlSensor` depends only on the small `GpuDevice` protocol, so a recorded
trace can stand in for a GPU in tests; like `sensor.Sensor`, it exists for the
type checker only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from greentune.meter.sensor import Component, Detection, Reading
from greentune.meter.snapshot import NVIDIA_DEVICE_PATHS, nvidia_present

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any, Protocol

    class GpuDevice(Protocol):
        """One GPU as `NvmlSensor` sees it; units are NVML's (mJ, mW, bytes, percent)."""

        model: str
        has_energy_counter: bool

        def total_energy_mj(self) -> int:
            """Energy counter in millijoules (only when `has_energy_counter`)."""
            ...

        def power_mw(self) -> int:
            """Current power draw in milliwatts."""
            ...

        def utilization_pct(self) -> float:
            """Percent of the last sample period during which a kernel ran."""
            ...

        def memory_used_bytes(self) -> int:
            """Device memory in use, bytes."""
            ...

        def power_limit_mw(self) -> int | None:
            """Enforced power limit in milliwatts, None when unknown."""
            ...


class NvmlSensor:
    """Energy, power, utilisation and memory of a list of GPUs."""

    name = "nvml"

    def __init__(self, devices: Sequence[GpuDevice], shutdown: bool = False) -> None:
        """Meter ``devices`` (``gpu:0`` is the first); ``shutdown`` calls nvmlShutdown on close."""
        self.devices = list(devices)
        self.components = [Component(f"gpu:{index}", "gpu", "measured") for index in range(len(devices))]
        self._shutdown = shutdown
        self._first_mj: dict[str, int] = {}
        self._integrated_j: dict[str, float] = {}
        self._last_power: dict[str, tuple[float, float]] = {}

    def read(self, now_s: float) -> Reading:
        """Cumulative energy per GPU since the first read; power, utilisation, VRAM."""
        energy_j: dict[str, float] = {}
        power_w: dict[str, float] = {}
        util_pct: dict[str, float] = {}
        memory_bytes: dict[str, int] = {}
        for component, device in zip(self.components, self.devices, strict=True):
            name = component.name
            power_w[name] = device.power_mw() / 1000.0
            if device.has_energy_counter:
                counter_mj = device.total_energy_mj()
                first_mj = self._first_mj.setdefault(name, counter_mj)
                energy_j[name] = (counter_mj - first_mj) / 1000.0
            else:
                energy_j[name] = self._integrate(name, now_s, power_w[name])
            util_pct[name] = device.utilization_pct()
            memory_bytes[name] = device.memory_used_bytes()
        return Reading(energy_j=energy_j, power_w=power_w, util_pct=util_pct, memory_bytes=memory_bytes)

    def _integrate(self, name: str, now_s: float, power_w: float) -> float:
        """Trapezoid rule between this power sample and the previous one."""
        previous = self._last_power.get(name)
        total_j = self._integrated_j.get(name, 0.0)
        if previous is not None:
            previous_s, previous_w = previous
            total_j += (previous_w + power_w) / 2.0 * max(now_s - previous_s, 0.0)
        self._last_power[name] = (now_s, power_w)
        self._integrated_j[name] = total_j
        return total_j

    def describe(self) -> dict[str, Any]:
        """GPU models, power limits and how each GPU's energy is obtained."""
        gpus = []
        for component, device in zip(self.components, self.devices, strict=True):
            limit_mw = device.power_limit_mw()
            gpus.append(
                {
                    "name": component.name,
                    "model": device.model,
                    "power_limit_w": None if limit_mw is None else limit_mw / 1000.0,
                    "energy": "energy counter" if device.has_energy_counter else "integrated power samples",
                }
            )
        return {"gpus": gpus}

    def close(self) -> None:
        """Shut NVML down when this sensor initialised it."""
        if self._shutdown:
            import pynvml

            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError:
                pass


@dataclass
class PynvmlDevice:
    """A real GPU behind a pynvml handle."""

    handle: Any
    model: str
    has_energy_counter: bool

    def total_energy_mj(self) -> int:
        """``nvmlDeviceGetTotalEnergyConsumption``, millijoules."""
        import pynvml

        return int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def power_mw(self) -> int:
        """``nvmlDeviceGetPowerUsage``, milliwatts."""
        import pynvml

        return int(pynvml.nvmlDeviceGetPowerUsage(self.handle))

    def utilization_pct(self) -> float:
        """``nvmlDeviceGetUtilizationRates().gpu``, percent."""
        import pynvml

        return float(pynvml.nvmlDeviceGetUtilizationRates(self.handle).gpu)

    def memory_used_bytes(self) -> int:
        """``nvmlDeviceGetMemoryInfo().used``, bytes."""
        import pynvml

        return int(pynvml.nvmlDeviceGetMemoryInfo(self.handle).used)

    def power_limit_mw(self) -> int | None:
        """``nvmlDeviceGetEnforcedPowerLimit``, milliwatts; None where unsupported."""
        import pynvml

        try:
            return int(pynvml.nvmlDeviceGetEnforcedPowerLimit(self.handle))
        except pynvml.NVMLError:
            return None


def visible_gpu_indices(visible_devices: str | None, uuids: list[str]) -> list[int]:
    """NVML indices of the GPUs CUDA exposes, in CUDA's order.

    ``visible_devices`` is the value of ``CUDA_VISIBLE_DEVICES`` (None when
    unset: every GPU); ``uuids`` are the UUIDs of all GPUs in NVML order.
    Entries are indices or unique prefixes of ``GPU-…`` UUIDs; like the CUDA
    runtime, the list ends at the first entry that names no GPU (``MIG-``
    slices included: NVML cannot meter a slice's energy), and a repeated GPU
    ends it too.
    """
    if visible_devices is None:
        return list(range(len(uuids)))
    indices: list[int] = []
    for entry in (part.strip() for part in visible_devices.split(",")):
        index = _resolve_entry(entry, uuids)
        if index is None or index in indices:
            break
        indices.append(index)
    return indices


def _resolve_entry(entry: str, uuids: list[str]) -> int | None:
    """One CUDA_VISIBLE_DEVICES entry → NVML index, or None when it names no GPU."""
    if entry.isdigit():
        index = int(entry)
        return index if index < len(uuids) else None
    if entry.startswith("GPU-"):
        matches = [index for index, uuid in enumerate(uuids) if uuid.startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    return None


_DRIVER_PATHS = NVIDIA_DEVICE_PATHS  # a module attribute, so that tests can point it at a fake tree


def detect() -> Detection:
    """Initialise NVML and build a sensor for every visible GPU, or say why there is none.

    On Linux without an NVIDIA driver, pynvml is not imported at all: it costs
    ~0.1 s, which `greentune measure` would add to every measured command.
    """
    if sys.platform == "linux" and not nvidia_present(_DRIVER_PATHS):
        return Detection(
            "nvml", None, "no NVIDIA driver here (no /dev/nvidiactl), so no GPU to measure", "install the NVIDIA driver"
        )
    try:
        import pynvml
    except ImportError:
        return Detection("nvml", None, "nvidia-ml-py is not installed", "pip install nvidia-ml-py")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return Detection("nvml", None, f"NVML did not start: {error}", _advice_for(error))
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(index) for index in range(count)]
        uuids = [_text(pynvml.nvmlDeviceGetUUID(handle)) for handle in handles]
        visible = visible_gpu_indices(os.environ.get("CUDA_VISIBLE_DEVICES"), uuids)
        devices = [_device(handles[index]) for index in visible]
    except pynvml.NVMLError as error:
        pynvml.nvmlShutdown()
        return Detection("nvml", None, f"NVML query failed: {error}", _advice_for(error))
    if not devices:
        pynvml.nvmlShutdown()
        detail = "NVML found no GPU" if count == 0 else "CUDA_VISIBLE_DEVICES hides every GPU"
        return Detection("nvml", None, detail, "check nvidia-smi and CUDA_VISIBLE_DEVICES")
    sensor = NvmlSensor(devices, shutdown=True)
    counters = sum(device.has_energy_counter for device in devices)
    detail = f"{len(devices)} GPU(s): {', '.join(device.model for device in devices)}; energy counter on {counters}"
    return Detection("nvml", sensor, detail)


def _device(handle: Any) -> PynvmlDevice:
    """Wrap one handle, finding out whether its energy counter works."""
    import pynvml

    try:
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        has_counter = True
    except pynvml.NVMLError:
        has_counter = False
    return PynvmlDevice(handle, _text(pynvml.nvmlDeviceGetName(handle)), has_counter)


def _text(value: str | bytes) -> str:
    """pynvml returns str or bytes depending on its version."""
    return value.decode() if isinstance(value, bytes) else value


def _advice_for(error: Exception) -> str:
    """What a user can do about an NVML error."""
    import pynvml

    code = getattr(error, "value", None)
    if code == pynvml.NVML_ERROR_LIBRARY_NOT_FOUND:
        return "no NVIDIA driver here (libnvidia-ml.so missing); install the driver on a GPU machine"
    if code == pynvml.NVML_ERROR_DRIVER_NOT_LOADED:
        return "load the NVIDIA kernel driver (nvidia-smi should work)"
    if code == pynvml.NVML_ERROR_NO_PERMISSION:
        return "run with access to /dev/nvidia* (in a container: --gpus all)"
    return "check that nvidia-smi works"
