"""Placement: rank cloud regions by the emissions of a job, with its price where one is published.

`rank_regions` applies each provider's PUE and each region's grid intensity
(data/cloud_regions.csv) to the same energy. `tradeoff` computes the choice
the seeds describe: a cheaper, dirtier region plus carbon offsets bought with
the money saved, against a cleaner, dearer one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from greentune.carbon.cost import cost_usd, instances_for
from greentune.carbon.intensity import PROVIDERS, provider_pue
from greentune.carbon.prices import PRICING_KINDS, load_prices, regional_price, sku_prices
from greentune.carbon.tables import require_positive, unknown
from greentune.data import read_table
from greentune.errors import GreentuneError


@dataclass(frozen=True)
class RegionRow:
    """One region's footprint for the job: gCO2eq (with the provider's PUE) and USD (None: no price)."""

    provider: str
    region: str
    name: str
    location: str
    intensity_gco2eq_per_kwh: float
    pue: float
    emissions_gco2eq: float
    cost_usd: float | None
    source: str
    year: str
    price_source: str = ""
    price_date: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


def rank_regions(
    energy_kwh: float,
    *,
    provider: str | None = None,
    sku: str | None = None,
    hours: float | None = None,
    offset_usd_per_t: float | None = None,
    count: int = 1,
    pricing: str = "on_demand",
    prices: str | None = None,
) -> list[RegionRow]:
    """Cloud regions for a job of `energy_kwh` IT energy, cleanest first.

    With `sku` and `hours`, each region with a published price gets
    `cost_usd` (hours × price × instances for `count` devices); a SKU limits the
    ranking to its provider. `offset_usd_per_t` does not change the ranking;
    pass it to `tradeoff`.
    """
    energy = require_positive("energy", energy_kwh, "kWh")
    if offset_usd_per_t is not None:
        require_positive("offset price", offset_usd_per_t, "USD/t")
    if pricing not in PRICING_KINDS:
        raise GreentuneError(f"pricing must be one of {', '.join(PRICING_KINDS)}, got {pricing!r}")
    if provider is not None and provider not in PROVIDERS:
        raise unknown("cloud provider", provider, list(PROVIDERS), "use aws, azure or gcp")
    price_rows = []
    if sku is not None:
        price_rows = sku_prices(sku, load_prices(prices), provider)
        provider = price_rows[0].provider
        if hours is None:
            raise GreentuneError(f"give --hours to price {price_rows[0].sku} (cost = hours × price per hour)")
    duration_h = require_positive("hours", hours, "h") if hours is not None else None
    pue_by_provider = {name: provider_pue(name) for name in PROVIDERS}
    rows = []
    for row in read_table("cloud_regions"):
        if provider is not None and row["provider"] != provider:
            continue
        pue = float(pue_by_provider[row["provider"]]["pue"])
        intensity = float(row["intensity_gco2eq_per_kwh"])
        cost, price_source, price_date = None, "", ""
        if price_rows and duration_h is not None:
            price = regional_price([p for p in price_rows if p.region == row["region"]], row["region"], pricing)
            if price is not None:
                cost = cost_usd(duration_h, price.usd_per_hour, instances_for(count, price.accelerator_count))
                price_source, price_date = price.source, price.date
        rows.append(
            RegionRow(
                provider=row["provider"],
                region=row["region"],
                name=row["name"],
                location=row["zone"],
                intensity_gco2eq_per_kwh=intensity,
                pue=pue,
                emissions_gco2eq=energy * pue * intensity,
                cost_usd=cost,
                source=row["source"],
                year=row["year"],
                price_source=price_source,
                price_date=price_date,
            )
        )
    return sorted(rows, key=lambda r: (r.emissions_gco2eq, r.provider, r.region))


@dataclass(frozen=True)
class Tradeoff:
    """Cheaper-dirtier region A against cleaner-dearer region B, and what offsets would change."""

    cheap: RegionRow
    clean: RegionRow
    extra_gco2eq: float
    saving_usd: float
    break_even_usd_per_t: float
    offset_usd_per_t: float | None
    offset_cost_usd: float | None
    recommendation: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


def tradeoff(rows: list[RegionRow], offset_usd_per_t: float | None = None) -> Tradeoff | None:
    """The cheapest priced region against the cleanest priced one; None when one region is both or none is priced."""
    priced = [row for row in rows if row.cost_usd is not None]
    if not priced:
        return None
    cheap = min(priced, key=lambda r: (r.cost_usd, r.emissions_gco2eq))
    clean = min(priced, key=lambda r: (r.emissions_gco2eq, r.cost_usd))
    if cheap is clean or cheap.emissions_gco2eq <= clean.emissions_gco2eq:
        return None
    assert cheap.cost_usd is not None and clean.cost_usd is not None
    extra_g = cheap.emissions_gco2eq - clean.emissions_gco2eq
    saving = clean.cost_usd - cheap.cost_usd
    extra_t = extra_g / 1e6
    break_even = saving / extra_t
    a = f"{cheap.provider}:{cheap.region}"
    b = f"{clean.provider}:{clean.region}"
    offset_cost = None
    if offset_usd_per_t is None:
        text = (
            f"{a} is ${saving:,.2f} cheaper but emits {extra_g / 1000:,.2f} kgCO2eq more than {b}; "
            f"running in {a} and offsetting the difference pays off while offsets cost less than "
            f"${break_even:,.0f}/tCO2eq (pass --offset-usd-per-t to decide)"
        )
    else:
        offset_cost = extra_t * offset_usd_per_t
        if offset_cost < saving:
            text = (
                f"run in {a} (cheaper, dirtier) and buy offsets: {extra_g / 1000:,.2f} kgCO2eq at "
                f"${offset_usd_per_t:,.2f}/t costs ${offset_cost:,.2f}, leaving ${saving - offset_cost:,.2f} "
                f"of the ${saving:,.2f} saved against {b} (cleaner, dearer)"
            )
        else:
            text = (
                f"run in {b} (cleaner, dearer): offsetting the extra {extra_g / 1000:,.2f} kgCO2eq of {a} at "
                f"${offset_usd_per_t:,.2f}/t would cost ${offset_cost:,.2f}, more than the ${saving:,.2f} it saves"
            )
    return Tradeoff(cheap, clean, extra_g, saving, break_even, offset_usd_per_t, offset_cost, text)
