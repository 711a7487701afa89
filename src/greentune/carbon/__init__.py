"""greentune.carbon — energy into carbon and money: grid intensity, PUE, embodied, prices, equivalents.

See docs/DESIGN.md (Accounting) for the module map. Names load on first use
(PEP 562), so that the CLI can declare its options with light modules of the
package (`prices.Pricing`) without importing numpy and the series loaders.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Two functions share their module's name; importing that module (as any other module of the package may) would
# make the package attribute the module, so they are bound now (both light: no numpy). `entsoe.entsoe_coverage`
# shares the name of the `entsoe_coverage` module too and would import numpy: import it from `carbon.entsoe`.
from greentune.carbon.equivalents import equivalents
from greentune.carbon.sci import sci

_HOMES = {
    "Accounting": "accounting",
    "EmissionsMethod": "accounting",
    "Input": "accounting",
    "account": "accounting",
    "cost_usd": "cost",
    "instances_for": "cost",
    "load_csv_series": "csv_series",
    "ElectricityMaps": "electricitymaps",
    "LatestIntensity": "electricitymaps",
    "embodied_gco2eq": "embodied",
    "lifetime_s": "embodied",
    "entsoe_availability": "entsoe",
    "entsoe_timezone": "entsoe",
    "load_entsoe": "entsoe",
    "load_entsoe_year": "entsoe",
    "GridCoverage": "entsoe_coverage",
    "Equivalent": "equivalents",
    "EnergyEstimate": "estimate",
    "estimate_energy": "estimate",
    "Hardware": "hardware",
    "hardware_names": "hardware",
    "lookup_hardware": "hardware",
    "Site": "intensity",
    "resolve_site": "intensity",
    "Price": "prices",
    "load_prices": "prices",
    "RegionRow": "regions",
    "Tradeoff": "regions",
    "rank_regions": "regions",
    "tradeoff": "regions",
    "FILLS": "series",
    "KINDS": "series",
    "Fill": "series",
    "IntensitySeries": "series",
    "Kind": "series",
    "DataRow": "tables",
    "ClockMap": "timeline",
    "EnergyPoint": "timeline",
    "TimelineEmissions": "timeline",
    "TimeResolved": "timeline",
    "energy_between": "timeline",
    "energy_intervals": "timeline",
    "intervals_from_power": "timeline",
    "time_resolved": "timeline",
    "timeline_emissions": "timeline",
    "SignalIndex": "watttime",
    "WattTime": "watttime",
    "lbs_per_mwh_to_g_per_kwh": "watttime",
}

__all__ = [
    "FILLS",
    "KINDS",
    "Accounting",
    "ClockMap",
    "DataRow",
    "ElectricityMaps",
    "EmissionsMethod",
    "EnergyEstimate",
    "EnergyPoint",
    "Equivalent",
    "Fill",
    "GridCoverage",
    "Hardware",
    "Input",
    "IntensitySeries",
    "Kind",
    "LatestIntensity",
    "Price",
    "RegionRow",
    "SignalIndex",
    "Site",
    "TimeResolved",
    "TimelineEmissions",
    "Tradeoff",
    "WattTime",
    "account",
    "cost_usd",
    "embodied_gco2eq",
    "energy_between",
    "energy_intervals",
    "entsoe_availability",
    "entsoe_timezone",
    "equivalents",
    "estimate_energy",
    "hardware_names",
    "instances_for",
    "intervals_from_power",
    "lbs_per_mwh_to_g_per_kwh",
    "lifetime_s",
    "load_csv_series",
    "load_entsoe",
    "load_entsoe_year",
    "load_prices",
    "lookup_hardware",
    "rank_regions",
    "resolve_site",
    "sci",
    "time_resolved",
    "timeline_emissions",
    "tradeoff",
]

if TYPE_CHECKING:
    from greentune.carbon.accounting import Accounting, EmissionsMethod, Input, account
    from greentune.carbon.cost import cost_usd, instances_for
    from greentune.carbon.csv_series import load_csv_series
    from greentune.carbon.electricitymaps import ElectricityMaps, LatestIntensity
    from greentune.carbon.embodied import embodied_gco2eq, lifetime_s
    from greentune.carbon.entsoe import (
        entsoe_availability,
        entsoe_timezone,
        load_entsoe,
        load_entsoe_year,
    )
    from greentune.carbon.entsoe_coverage import GridCoverage
    from greentune.carbon.equivalents import Equivalent, equivalents
    from greentune.carbon.estimate import EnergyEstimate, estimate_energy
    from greentune.carbon.hardware import Hardware, hardware_names, lookup_hardware
    from greentune.carbon.intensity import Site, resolve_site
    from greentune.carbon.prices import Price, load_prices
    from greentune.carbon.regions import RegionRow, Tradeoff, rank_regions, tradeoff
    from greentune.carbon.sci import sci
    from greentune.carbon.series import FILLS, KINDS, Fill, IntensitySeries, Kind
    from greentune.carbon.tables import DataRow
    from greentune.carbon.timeline import (
        ClockMap,
        EnergyPoint,
        TimelineEmissions,
        TimeResolved,
        energy_between,
        energy_intervals,
        intervals_from_power,
        time_resolved,
        timeline_emissions,
    )
    from greentune.carbon.watttime import SignalIndex, WattTime, lbs_per_mwh_to_g_per_kwh


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'greentune.carbon' has no attribute {name!r}")
    return getattr(importlib.import_module(f"greentune.carbon.{_HOMES[name]}"), name)
