"""Where a job runs: a location's annual grid intensity, the facility's PUE, the SKU's prices.

`resolve_site` accepts a country (ISO alpha-2 `DE` or alpha-3 `DEU`, or its
English name), a sub-national zone (`US-CA`, `CA-QC`, `US-NW-BPAT`), a cloud
region (`azure:westus2`, `aws:us-east-1`, `gcp:europe-west4`), or nothing,
which means the world average — and the returned `Site` says so
(`is_default`, `note`), so that no default is ever silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from greentune.carbon.prices import Price, load_prices, sku_prices
from greentune.carbon.tables import DataRow, Row, data_row, require_positive, unknown
from greentune.data import read_table
from greentune.errors import GreentuneError

PROVIDERS = ("aws", "azure", "gcp")


@dataclass(frozen=True)
class Site:
    """A resolved location: intensity (gCO2eq/kWh), PUE (ratio ≥ 1), optional SKU prices, and citations."""

    location: str
    name: str
    intensity_gco2eq_per_kwh: float
    intensity_source: str
    intensity_year: str
    pue: float
    pue_source: str
    pue_year: str
    provider: str | None = None
    region: str | None = None
    sku: str | None = None
    sku_prices: tuple[Price, ...] = ()
    is_default: bool = False
    note: str = ""
    rows: tuple[DataRow, ...] = ()


def _assumption(name: str) -> Row:
    for row in read_table("estimate_assumptions"):
        if row["name"] == name:
            return row
    raise GreentuneError(f"estimate_assumptions.csv lacks {name!r}; reinstall greentune")


def _country(code: str) -> tuple[str, Row] | None:
    key = code.strip().upper()
    for row in read_table("grid_intensity_countries"):
        if key in (row["alpha2"], row["alpha3"]) or code.strip().lower() == row["name"].lower():
            return row["alpha2"], row
    return None


def _subnational(code: str) -> Row | None:
    key = code.strip().upper()
    for row in read_table("grid_intensity_subnational"):
        if row["code"].upper() == key:
            return row
    return None


def _cloud_region(provider: str, region: str) -> Row:
    if provider not in PROVIDERS:
        raise unknown("cloud provider", provider, list(PROVIDERS), "use aws:REGION, azure:REGION or gcp:REGION")
    rows = [row for row in read_table("cloud_regions") if row["provider"] == provider]
    for row in rows:
        if row["region"].lower() == region.strip().lower():
            return row
    names = [f"{provider}:{row['region']}" for row in rows]
    raise unknown("region", f"{provider}:{region}", names, "`greentune regions --energy-kwh 1` lists them all")


def provider_pue(provider: str) -> Row:
    """The provider_pue.csv row of `provider` ('local' for a machine outside the clouds)."""
    for row in read_table("provider_pue"):
        if row["provider"] == provider:
            return row
    raise GreentuneError(f"provider_pue.csv lacks {provider!r}; reinstall greentune")


def all_locations() -> list[str]:
    """Every name `resolve_site` accepts (for suggestions)."""
    names = [row["alpha2"] for row in read_table("grid_intensity_countries")]
    names += [row["alpha3"] for row in read_table("grid_intensity_countries")]
    names += [row["name"] for row in read_table("grid_intensity_countries")]
    names += [row["code"] for row in read_table("grid_intensity_subnational")]
    names += [f"{row['provider']}:{row['region']}" for row in read_table("cloud_regions")]
    return names


@dataclass(frozen=True)
class _Place:
    """A location found in the tables: its key and name, its intensity row and citation, a cloud
    provider and region when it is one, and whether it is the flagged default (with its note)."""

    key: str
    name: str
    row: Row
    citation: DataRow
    provider: str | None = None
    region: str | None = None
    is_default: bool = False
    note: str = ""


def _place(location: str | None) -> _Place:
    """Find `location` (None or blank: the world average, flagged) in the intensity tables."""
    if location is None or not location.strip():
        default = _assumption("default_location")["value"]
        found = _country(default)
        assert found is not None, "default location must be in grid_intensity_countries.csv"
        code, row = found
        note = (
            f"no location given: used the {row['name'].lower()} average grid intensity "
            f"({float(row['intensity_gco2eq_per_kwh']):g} gCO2eq/kWh, {row['year']}); pass a region for a real figure"
        )
        return _Place(
            code, row["name"], row, data_row("grid_intensity_countries", code, row), is_default=True, note=note
        )
    text = location.strip()
    if ":" in text:
        provider, region = (part.strip().lower() for part in text.split(":", 1))
        row = _cloud_region(provider, region)
        key = f"{provider}:{row['region']}"
        name = f"{row['name']} ({row['zone']})"
        return _Place(key, name, row, data_row("cloud_regions", key, row), provider, row["region"])
    found = _country(text)
    if found:
        code, row = found
        return _Place(code, row["name"], row, data_row("grid_intensity_countries", code, row))
    sub = _subnational(text)
    if sub:
        code = sub["code"]
        return _Place(code, sub["name"], sub, data_row("grid_intensity_subnational", code, sub))
    raise unknown(
        "location",
        text,
        all_locations(),
        "give a country (DE, DEU), a zone (US-CA, CA-QC) or a cloud region (azure:westus2, aws:us-east-1, gcp:europe-west4)",
    )


def resolve_site(
    location: str | None,
    *,
    pue: float | None = None,
    sku: str | None = None,
    intensity_gco2eq_per_kwh: float | None = None,
    prices: str | None = None,
) -> Site:
    """Resolve `location` (None: world average, flagged) with optional PUE, SKU and intensity overrides.

    `intensity_gco2eq_per_kwh` replaces the table's figure (e.g. a published
    one you trust more); `prices` is a YAML file of price rows (see
    `greentune.carbon.prices`), else $GREENTUNE_PRICES.
    """
    place = _place(location)
    key, name, is_default, note, provider = place.key, place.name, place.is_default, place.note, place.provider
    rows = [place.citation]
    if intensity_gco2eq_per_kwh is not None:
        intensity = require_positive("intensity", intensity_gco2eq_per_kwh, "gCO2eq/kWh")
        intensity_source, intensity_year, rows = "given by the user", "", []
        if is_default:
            key, name, is_default, note = "custom", "given intensity", False, ""
    else:
        intensity = float(place.row["intensity_gco2eq_per_kwh"])
        intensity_source, intensity_year = place.row["source"], place.row["year"]
    price_rows: tuple[Price, ...] = ()
    if sku is not None:
        matched = sku_prices(sku, load_prices(prices), provider)
        price_rows = tuple(matched)
        sku = matched[0].sku
        provider = provider or matched[0].provider
    if pue is not None:
        pue_value = require_positive("PUE", pue, "")
        if pue_value < 1:
            raise GreentuneError(f"PUE is total facility energy over IT energy, so at least 1; got {pue_value:g}")
        pue_source, pue_year = "given by the user", ""
    else:
        pue_row = provider_pue(provider or "local")
        pue_value = float(pue_row["pue"])
        pue_source, pue_year = pue_row["source"], pue_row["year"]
        rows.append(data_row("provider_pue", provider or "local", pue_row))
    return Site(
        location=key,
        name=name,
        intensity_gco2eq_per_kwh=intensity,
        intensity_source=intensity_source,
        intensity_year=intensity_year,
        pue=pue_value,
        pue_source=pue_source,
        pue_year=pue_year,
        provider=provider,
        region=place.region,
        sku=sku,
        sku_prices=price_rows,
        is_default=is_default,
        note=note,
        rows=tuple(rows),
    )
