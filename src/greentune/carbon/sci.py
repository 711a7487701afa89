"""The Software Carbon Intensity score: SCI = (O + M) per R (Green Software Foundation)."""

from __future__ import annotations

from greentune.carbon.tables import require_positive
from greentune.errors import GreentuneError


def sci(operational_gco2eq: float, embodied_gco2eq: float | None, functional_units: float) -> float:
    """gCO2eq per functional unit R (a run, 1,000 summaries, a million tokens): (O + M) / R."""
    units = require_positive("functional units R", functional_units, "")
    total = operational_gco2eq + (embodied_gco2eq or 0.0)
    if total != total or total < 0:
        raise GreentuneError(f"operational plus embodied emissions must be a number ≥ 0, got {total!r} gCO2eq")
    return total / units
