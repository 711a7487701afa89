"""Money: hours × price per instance-hour × instances (clouds bill whole VMs by the hour or second)."""

from __future__ import annotations

import math

from greentune.carbon.tables import require_positive


def instances_for(device_count: int, devices_per_instance: int) -> int:
    """Whole instances billed to hold `device_count` devices (a SKU with 0 listed devices: one per device)."""
    require_positive("device count", device_count, "")
    if devices_per_instance <= 0:
        return int(device_count)
    return max(1, math.ceil(device_count / devices_per_instance))


def cost_usd(hours: float, usd_per_hour: float, instances: int = 1) -> float:
    """Dollars for `instances` instances of a SKU at `usd_per_hour` for `hours`."""
    require_positive("hours", hours, "h")
    require_positive("price", usd_per_hour, "USD/h")
    require_positive("instances", instances, "")
    return hours * usd_per_hour * instances
