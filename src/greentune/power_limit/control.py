"""Reading and setting one GPU's power limit through NVML (nvidia-ml-py, passed in so a fake can stand in)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from greentune.errors import GreentuneError


class PowerLimitDenied(GreentuneError):
    """The driver refused to change the power limit (needs root / CAP_SYS_ADMIN)."""


class PowerControl(Protocol):
    """One GPU's power limit and energy counter; watts and joules."""

    def limit_range_w(self) -> tuple[int, int]:
        """(lowest, highest) power limit the GPU accepts."""
        ...

    def power_limit_w(self) -> int:
        """The power limit in force."""
        ...

    def set_power_limit_w(self, watts: int) -> None:
        """Set the power limit; raises `PowerLimitDenied` without permission."""
        ...

    def total_energy_j(self) -> float:
        """The GPU's cumulative energy counter."""
        ...


@dataclass
class NvmlPowerControl:
    """`PowerControl` over an NVML handle; `nvml` is the pynvml module (or a fake with its names)."""

    nvml: ModuleType | Any
    handle: Any

    def limit_range_w(self) -> tuple[int, int]:
        """(lowest, highest) limit from nvmlDeviceGetPowerManagementLimitConstraints (mW)."""
        low_mw, high_mw = self.nvml.nvmlDeviceGetPowerManagementLimitConstraints(self.handle)
        return int(low_mw) // 1000, int(high_mw) // 1000

    def power_limit_w(self) -> int:
        """The limit in force, from nvmlDeviceGetPowerManagementLimit (mW)."""
        return int(self.nvml.nvmlDeviceGetPowerManagementLimit(self.handle)) // 1000

    def set_power_limit_w(self, watts: int) -> None:
        """nvmlDeviceSetPowerManagementLimit in mW; a permission error becomes `PowerLimitDenied`."""
        try:
            self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, watts * 1000)
        except self.nvml.NVMLError as error:
            if getattr(error, "value", None) == self.nvml.NVML_ERROR_NO_PERMISSION:
                raise PowerLimitDenied(
                    f"no permission to set GPU power limits ({error}); run as root or grant CAP_SYS_ADMIN"
                ) from None
            raise GreentuneError(f"could not set the GPU power limit to {watts} W ({error})") from None

    def total_energy_j(self) -> float:
        """nvmlDeviceGetTotalEnergyConsumption (mJ) in joules."""
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)) / 1000.0


def nvml_controls(nvml: Any = None) -> list[NvmlPowerControl]:
    """A control for every GPU visible to CUDA (initialises NVML); `nvml` defaults to pynvml."""
    from greentune.meter.nvml import visible_gpu_indices

    if nvml is None:
        import pynvml

        nvml = pynvml
    try:
        nvml.nvmlInit()
        handles = [nvml.nvmlDeviceGetHandleByIndex(index) for index in range(nvml.nvmlDeviceGetCount())]
        uuids = [str(nvml.nvmlDeviceGetUUID(handle)) for handle in handles]
    except nvml.NVMLError as error:
        raise GreentuneError(f"power limits need NVML, which did not start ({error})") from None
    visible = visible_gpu_indices(os.environ.get("CUDA_VISIBLE_DEVICES"), uuids)
    return [NvmlPowerControl(nvml, handles[index]) for index in visible]
