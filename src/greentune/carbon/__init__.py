"""greentune.carbon — energy into carbon and money: grid intensity, PUE, embodied, prices, equivalents.

See docs/DESIGN.md (Accounting) for the module map.
"""

from greentune.carbon.accounting import Accounting, EmissionsMethod, Input, account
from greentune.carbon.cost import cost_usd, instances_for
from greentune.carbon.csv_series import load_csv_series
from greentune.carbon.electricitymaps import ElectricityMaps, LatestIntensity
from greentune.carbon.embodied import embodied_gco2eq, lifetime_s
from greentune.carbon.entsoe import (
    entsoe_availability,
    entsoe_coverage,
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
    "entsoe_coverage",
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
