"""How much of a country-year the ENTSO-E file holds, and how its annual intensity compares with a publication.

ENTSO-E's "actual generation per production type" misses what TSOs do not
report (distribution-grid solar and wind, small CHP), and some TSOs file
whole fuels under 'Other'. So for each country-year greentune compares the
file with Ember's published annual figures (`data/grid_published_annual.csv`):
generation (coverage), each fuel group (which fuels are under-reported) and the
annual lifecycle intensity. The result becomes notes on the series, so that a
plan on a thin or skewed series says so.

Hand-written because it is a few sums over one frame; no library checks
ENTSO-E coverage against Ember.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from greentune.carbon.fuel_factors import factors_for, fuel_factors
from greentune.data import read_table
from greentune.errors import GreentuneError

if TYPE_CHECKING:
    import pandas as pd

COVERAGE_MIN_PCT = 90.0  # below this share of published generation a series says it is thin
DIFFERENCE_MAX_PCT = 15.0  # an annual mean further than this from the published one is flagged
UNDER_REPORTED_RATIO = 0.5  # a fuel group is under-reported when the file holds less than half of it …
UNDER_REPORTED_MIN_SHARE = 0.01  # … and it is at least 1 % of the published generation
UNKNOWN_NOTE_SHARE = 0.05  # 'Other' charged the default factor is named when it is this much of the file
PUBLISHED_GROUPS = ("coal", "gas", "other_fossil", "nuclear", "hydro", "wind", "solar", "bioenergy", "other_renewables")
MW_SLOT_TO_TWH = 1e-6  # MW × h → TWh


@dataclass(frozen=True)
class PublishedAnnual:
    """A published annual figure for one country-year: generation (TWh) in total and per fuel group,
    lifecycle intensity (gCO2eq/kWh), and where it comes from (`source`, `published` year)."""

    country: str
    year: int
    generation_twh: float
    group_twh: dict[str, float]
    intensity_gco2eq_per_kwh: float
    source: str
    published: int

    @property
    def citation(self) -> str:
        """Short name of the publication, e.g. 'Ember 2022'."""
        return f"{self.source.split(',')[0]} {self.published}"


@dataclass(frozen=True)
class FuelGap:
    """A fuel group the file under-reports: `published_twh` against the file's `file_twh`."""

    group: str
    published_twh: float
    file_twh: float


@dataclass(frozen=True)
class GridCoverage:
    """One country-year of ENTSO-E data against its published figure.

    `file_generation_twh` and `file_intensity_gco2eq_per_kwh` (generation-weighted, with greentune's
    fuel factors) come from the file; `published` is None where greentune has no published figure;
    `under_reported` lists the fuel groups the file misses; `default_unknown_share` is the share of
    the file's generation charged the assumed-thermal default ('Other' nobody identified).
    """

    country: str
    year: int
    file_generation_twh: float
    file_intensity_gco2eq_per_kwh: float
    published: PublishedAnnual | None
    under_reported: tuple[FuelGap, ...]
    default_unknown_share: float

    @property
    def coverage_pct(self) -> float | None:
        """File generation in percent of the published generation."""
        return None if self.published is None else 100 * self.file_generation_twh / self.published.generation_twh

    @property
    def difference_pct(self) -> float | None:
        """How far the file's annual intensity lies from the published one, in percent of the latter."""
        if self.published is None:
            return None
        return 100 * (self.file_intensity_gco2eq_per_kwh / self.published.intensity_gco2eq_per_kwh - 1)

    @property
    def thin(self) -> bool:
        """Below `COVERAGE_MIN_PCT` of the published generation."""
        return self.coverage_pct is not None and self.coverage_pct < COVERAGE_MIN_PCT

    @property
    def off(self) -> bool:
        """Annual intensity more than `DIFFERENCE_MAX_PCT` from the published figure."""
        return self.difference_pct is not None and abs(self.difference_pct) > DIFFERENCE_MAX_PCT

    def notes(self) -> tuple[str, ...]:
        """What a user of this country-year's series should know, one line each."""
        where = f"{self.country} {self.year}"
        if self.published is None or self.coverage_pct is None or self.difference_pct is None:
            return (f"{where}: greentune has no published annual figure to check the ENTSO-E data against",)
        coverage = (
            f"{where}: the ENTSO-E data covers {self.coverage_pct:.0f} % of the published generation "
            f"({self.file_generation_twh:.1f} of {self.published.generation_twh:.1f} TWh, {self.published.citation})"
        )
        if self.thin:
            coverage = f"below {COVERAGE_MIN_PCT:.0f} % coverage: {coverage}"
        if self.under_reported:
            gaps = ", ".join(
                f"{gap.group.replace('_', ' ')} {gap.file_twh:.1f} of {gap.published_twh:.1f} TWh"
                for gap in self.under_reported
            )
            coverage += f"; under-reported: {gaps}"
        intensity = (
            f"{where}: annual mean of this data {self.file_intensity_gco2eq_per_kwh:.0f} gCO2eq/kWh vs "
            f"{self.published.intensity_gco2eq_per_kwh:.0f} published ({self.difference_pct:+.0f} %)"
        )
        if self.off:
            intensity = (
                f"more than {DIFFERENCE_MAX_PCT:.0f} % off the published figure: {intensity}; "
                "absolute emissions from this series are unreliable (see docs/GRID_DATA.md)"
            )
        notes = [coverage, intensity]
        if self.default_unknown_share >= UNKNOWN_NOTE_SHARE:
            default = fuel_factors()["Other"].intensity_gco2eq_per_kwh
            notes.append(
                f"{where}: 'Other' is {100 * self.default_unknown_share:.0f} % of the file's generation and no source "
                f"says what it is; it is charged the default {default:.0f} gCO2eq/kWh (assumed thermal) and "
                "dominates the error"
            )
        return tuple(notes)


def published_annual(country: str, year: int) -> PublishedAnnual | None:
    """The published annual figure for `country` in `year`, or None when greentune has none."""
    for row in read_table("grid_published_annual"):
        if row["country"] == country.upper() and int(row["year"]) == year and row["generation_twh"]:
            return PublishedAnnual(
                country=row["country"],
                year=year,
                generation_twh=float(row["generation_twh"]),
                group_twh={group: float(row[f"{group}_twh"] or 0.0) for group in PUBLISHED_GROUPS},
                intensity_gco2eq_per_kwh=float(row["intensity_gco2eq_per_kwh"]),
                source=row["source"],
                published=int(row["published"]),
            )
    return None


def fuel_energy_twh(generation_mw: pd.DataFrame) -> dict[str, float]:
    """Energy (TWh) per production type of a generation-by-fuel frame (MW, one row per slot start).

    The slot length is the frame's shortest spacing (so it needs two rows); negative readings and
    missing values count as zero.
    """
    import pandas as pd

    if len(generation_mw.index) < 2:
        raise GreentuneError("a generation frame needs at least two rows to tell its slot length")
    slot_h = pd.Series(generation_mw.index).diff().min().total_seconds() / 3600
    energy = generation_mw.clip(lower=0).fillna(0.0).sum() * slot_h * MW_SLOT_TO_TWH
    return {str(fuel): float(value) for fuel, value in energy.items()}


def grid_coverage(
    country: str, year: int, generation_mw: pd.DataFrame, published: PublishedAnnual | None
) -> GridCoverage:
    """Compare one country-year of ENTSO-E generation (MW by production type) with its published figure."""
    energy_twh = fuel_energy_twh(generation_mw)
    factors = factors_for(energy_twh, country)
    total_twh = sum(energy_twh.values())
    emissions = sum(energy * factors[fuel].intensity_gco2eq_per_kwh for fuel, energy in energy_twh.items())
    default_unknown = sum(energy for fuel, energy in energy_twh.items() if factors[fuel].is_default_unknown)
    gaps: list[FuelGap] = []
    if published is not None:
        file_group_twh = {group: 0.0 for group in PUBLISHED_GROUPS}
        for fuel, energy in energy_twh.items():
            if factors[fuel].published_group:
                file_group_twh[factors[fuel].published_group] += energy
        gaps = [
            FuelGap(group, published.group_twh[group], file_group_twh[group])
            for group in PUBLISHED_GROUPS
            if published.group_twh[group] >= UNDER_REPORTED_MIN_SHARE * published.generation_twh
            and file_group_twh[group] < UNDER_REPORTED_RATIO * published.group_twh[group]
        ]
    return GridCoverage(
        country=country.upper(),
        year=year,
        file_generation_twh=total_twh,
        file_intensity_gco2eq_per_kwh=emissions / total_twh if total_twh > 0 else float("nan"),
        published=published,
        under_reported=tuple(gaps),
        default_unknown_share=default_unknown / total_twh if total_twh > 0 else 0.0,
    )
