"""Cloud SKU prices per hour: the shipped table plus the user's own rows.

`greentune/data/sku_prices.csv` holds list prices with the date they were
read. Prices change; a user overrides or adds rows with a YAML file, given as
`prices=` (CLI: `--prices FILE`) or in the environment variable
`GREENTUNE_PRICES`:

    prices:
      - provider: azure
        sku: ND40rs_v2
        region: westus2          # "" or omitted: any region of the provider
        pricing: on_demand       # on_demand | spot | low_priority
        usd_per_hour: 22.03
        accelerator: V100        # optional
        accelerator_count: 8     # optional: accelerators per instance
        date: 2024-05-01
        source: my invoice of May 2024

A user row replaces the shipped row with the same provider, SKU, region and
pricing, and is added otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from greentune.carbon.tables import DataRow, Row, normalise, require_positive, unknown
from greentune.data import read_table
from greentune.errors import GreentuneError


class Pricing(StrEnum):
    """How an hour is bought: the price column used."""

    ON_DEMAND = "on_demand"
    SPOT = "spot"
    LOW_PRIORITY = "low_priority"


PRICING_KINDS = tuple(Pricing)
PRICES_ENV = "GREENTUNE_PRICES"


@dataclass(frozen=True)
class Price:
    """One hourly price of one SKU (an instance type, i.e. a whole VM) in one region."""

    provider: str
    sku: str
    region: str
    pricing: str
    usd_per_hour: float
    accelerator: str
    accelerator_count: int
    date: str
    source: str
    year: str

    def data_row(self) -> DataRow:
        """The citation of this price."""
        where = self.region or "any region"
        return DataRow("sku_prices", f"{self.provider}:{self.sku}@{where}/{self.pricing}", self.source, self.year)


def _price_from_row(row: Row, origin: str) -> Price:
    try:
        pricing = str(row["pricing"]).strip()
        if pricing not in PRICING_KINDS:
            raise GreentuneError(f"pricing {pricing!r} in {origin} must be one of {', '.join(PRICING_KINDS)}")
        date = str(row["date"]).strip()
        usd = require_positive(f"usd_per_hour of {row['sku']} in {origin}", float(row["usd_per_hour"]), "USD/h")
        return Price(
            provider=str(row["provider"]).strip().lower(),
            sku=str(row["sku"]).strip(),
            region=str(row.get("region") or "").strip(),
            pricing=pricing,
            usd_per_hour=usd,
            accelerator=str(row.get("accelerator") or "").strip(),
            accelerator_count=int(row.get("accelerator_count") or 0),
            date=date,
            source=str(row["source"]).strip(),
            year=str(row.get("year") or date[:4]).strip(),
        )
    except KeyError as missing:
        raise GreentuneError(
            f"price row in {origin} lacks {missing}; see greentune.carbon.prices for the format"
        ) from None
    except ValueError as error:
        raise GreentuneError(f"bad number in a price row of {origin}: {error}") from None


def _user_rows(path: Path, origin: str) -> list[Price]:
    """The rows of the user's YAML file; `origin` names it in errors (the path, and $GREENTUNE_PRICES when set there)."""
    import yaml

    if not path.is_file():
        raise GreentuneError(f"no prices file at {origin}; give a YAML file with a 'prices:' list")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise GreentuneError(
            f"cannot read prices file {origin} ({str(error).splitlines()[0]}); it must be YAML with a 'prices:' list"
        ) from None
    rows = document.get("prices") if isinstance(document, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise GreentuneError(
            f"{origin} must hold a 'prices:' list of rows (provider, sku, pricing, usd_per_hour, date, source)"
        )
    return [_price_from_row({k: str(v) for k, v in row.items()}, origin) for row in rows]


def load_prices(path: str | Path | None = None) -> list[Price]:
    """All prices: the shipped table, overridden and extended by `path` or $GREENTUNE_PRICES."""
    prices = {
        (p.provider, normalise(p.sku), p.region, p.pricing): p
        for p in (_price_from_row(row, "sku_prices.csv") for row in read_table("sku_prices"))
    }
    user_path = path if path is not None else os.environ.get(PRICES_ENV) or None
    if user_path:
        origin = str(user_path) if path is not None else f"{user_path} (from ${PRICES_ENV})"
        for price in _user_rows(Path(user_path), origin):
            prices[(price.provider, normalise(price.sku), price.region, price.pricing)] = price
    return list(prices.values())


def sku_prices(sku: str, prices: list[Price], provider: str | None = None) -> list[Price]:
    """The rows of `sku` (any case, any punctuation); unknown SKU → GreentuneError naming close ones."""
    key = normalise(sku.removeprefix("Standard_").removeprefix("standard_"))
    rows = [p for p in prices if normalise(p.sku) == key and (provider is None or p.provider == provider)]
    if not rows:
        names = sorted({p.sku for p in prices if provider is None or p.provider == provider})
        where = f" for {provider}" if provider else ""
        raise unknown(
            f"SKU{where}",
            sku,
            names,
            f"add its price with --prices FILE or ${PRICES_ENV} (see `greentune estimate --help`)",
        )
    return rows


def regional_price(rows: list[Price], region: str | None, pricing: str) -> Price | None:
    """The price for `region` and `pricing`; a row without region applies where none is specific."""
    if pricing not in PRICING_KINDS:
        raise GreentuneError(f"pricing must be one of {', '.join(PRICING_KINDS)}, got {pricing!r}")
    for price in rows:
        if price.pricing == pricing and region and price.region == region:
            return price
    for price in rows:
        if price.pricing == pricing and not price.region:
            return price
    return None
