"""greentune.power_limit: profile GPU power limits on a job's first steps, apply the best one, restore on exit."""

from greentune.power_limit.control import NvmlPowerControl, PowerControl, PowerLimitDenied, nvml_controls
from greentune.power_limit.optimizer import (
    LimitProfile,
    Objective,
    PowerLimitOptimizer,
    PowerLimitResult,
    candidate_limits_w,
    choose_limit,
)

__all__ = [
    "LimitProfile",
    "NvmlPowerControl",
    "Objective",
    "PowerControl",
    "PowerLimitDenied",
    "PowerLimitOptimizer",
    "PowerLimitResult",
    "candidate_limits_w",
    "choose_limit",
    "nvml_controls",
]
