"""ENTSO-E production types → lifecycle emission factors, with per-country readings of 'Other'.

The table (`data/fuel_emission_factors.csv`) maps every ENTSO-E production
type to a factor and to the fuel group Ember publishes it under. A row with a
`country` overrides the default for that country only: ENTSO-E's 'Other' is a
different thing in each country (gas CHP in NL, biomass CHP in SE), and where
no source says what it is the default (assumed thermal) stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from greentune.data import read_table
from greentune.errors import GreentuneError

UNKNOWN_FUEL = "unknown"  # the table's row for 'Other' where nothing says what it is


@dataclass(frozen=True)
class FuelFactor:
    """One production type's factor: `fuel` (table row), `intensity_gco2eq_per_kwh` (lifecycle),
    `published_group` (Ember's fuel group it counts under; '' when unknown), `country` ('' = default)."""

    fuel: str
    intensity_gco2eq_per_kwh: float
    published_group: str
    country: str

    @property
    def is_default_unknown(self) -> bool:
        """Whether this is the assumed-thermal default for a production type nobody identified."""
        return self.fuel == UNKNOWN_FUEL and not self.country


@cache
def fuel_factors(country: str = "") -> dict[str, FuelFactor]:
    """ENTSO-E production type → its `FuelFactor` in `country` (the defaults where it has no own row)."""
    mapping: dict[str, FuelFactor] = {}
    rows = read_table("fuel_emission_factors")
    for wanted in ("", country.upper()) if country else ("",):
        for row in rows:
            if row["country"] != wanted:
                continue
            factor = FuelFactor(
                row["fuel"], float(row["intensity_gco2eq_per_kwh"]), row["published_group"], row["country"]
            )
            for psr_type in row["entsoe_psr_types"].split("|"):
                mapping[psr_type] = factor
    return mapping


def factors_for(fuels: Iterable[str], country: str = "") -> dict[str, FuelFactor]:
    """The `FuelFactor` of each production type in `fuels`; an error naming any the table lacks."""
    mapping = fuel_factors(country)
    wanted = list(fuels)
    unmapped = sorted(set(wanted) - mapping.keys())
    if unmapped:
        raise GreentuneError(
            f"no emission factor for ENTSO-E fuel(s) {unmapped}; add them to fuel_emission_factors.csv"
        )
    return {fuel: mapping[fuel] for fuel in wanted}
