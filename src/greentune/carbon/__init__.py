"""greentune.carbon — energy into carbon and money: grid intensity, PUE, embodied, prices, equivalents.

See docs/DESIGN.md (Accounting) for the module map.
"""

from greentune.carbon.accounting import Accounting, Input, account
from greentune.carbon.cost import cost_usd, instances_for
from greentune.carbon.embodied import embodied_gco2eq, lifetime_s
from greentune.carbon.equivalents import Equivalent, equivalents
from greentune.carbon.estimate import EnergyEstimate, estimate_energy
from greentune.carbon.hardware import Hardware, hardware_names, lookup_hardware
from greentune.carbon.intensity import Site, resolve_site
from greentune.carbon.prices import Price, load_prices
from greentune.carbon.regions import RegionRow, Tradeoff, rank_regions, tradeoff
from greentune.carbon.sci import sci
from greentune.carbon.tables import DataRow

__all__ = [
    "Accounting",
    "DataRow",
    "EnergyEstimate",
    "Equivalent",
    "Hardware",
    "Input",
    "Price",
    "RegionRow",
    "Site",
    "Tradeoff",
    "account",
    "cost_usd",
    "embodied_gco2eq",
    "equivalents",
    "estimate_energy",
    "hardware_names",
    "instances_for",
    "lifetime_s",
    "load_prices",
    "lookup_hardware",
    "rank_regions",
    "resolve_site",
    "sci",
    "tradeoff",
]
