"""Emissions in everyday terms (km by car, flights, human-years, phone charges), from data/equivalents.csv."""

from __future__ import annotations

import math
from dataclasses import dataclass

from greentune.data import read_table
from greentune.errors import GreentuneError


@dataclass(frozen=True)
class Equivalent:
    """`value` `unit` of `name` emit as much as the emissions given."""

    name: str
    value: float
    unit: str
    source: str
    year: str


def equivalents(emissions_gco2eq: float) -> list[Equivalent]:
    """The emissions expressed in each everyday unit of data/equivalents.csv."""
    if math.isnan(emissions_gco2eq) or math.isinf(emissions_gco2eq) or emissions_gco2eq < 0:
        raise GreentuneError(f"emissions must be a finite number ≥ 0, got {emissions_gco2eq!r} gCO2eq")
    return [
        Equivalent(
            row["name"], emissions_gco2eq / float(row["gco2eq_per_unit"]), row["unit"], row["source"], row["year"]
        )
        for row in read_table("equivalents")
    ]
