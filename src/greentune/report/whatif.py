"""Region what-if and plain-language equivalents for the energy the reported runs measured.

The figures come from `greentune.carbon` (its data files carry source and year);
this module only chooses what to show: the cleanest and dirtiest regions for
the same energy, and what the emissions compare to.
"""

from __future__ import annotations

from pydantic import BaseModel

from greentune.carbon import Equivalent, RegionRow
from greentune.ledger import RunRecord

REGIONS_SHOWN = 5


class RegionWhatIf(BaseModel):
    """Where the same measured energy would have emitted least and most."""

    energy_kwh: float
    hours: float
    here_location: str
    here_emissions_gco2eq: float
    here_cost_usd: float | None
    cleanest: list[RegionRow]
    dirtiest: list[RegionRow]


def region_whatif(records: list[RunRecord]) -> RegionWhatIf | None:
    """Cleanest and dirtiest regions for the summed energy of `records`, with $ where a price applies."""
    if not records:
        return None
    from greentune.carbon import rank_regions

    energy_kwh = sum(r.energy_kwh for r in records)
    hours = sum(r.duration_s for r in records) / 3600.0
    skus = {_site(r).get("sku") for r in records}
    sku = skus.pop() if len(skus) == 1 else None
    device_count = max(r.device_count for r in records)
    ranked = rank_regions(energy_kwh, sku=sku, hours=hours if sku else None, count=device_count)
    locations = sorted({r.location for r in records})
    costs = [r.cost_usd for r in records]
    return RegionWhatIf(
        energy_kwh=energy_kwh,
        hours=hours,
        here_location=", ".join(locations),
        here_emissions_gco2eq=sum(r.emissions_gco2eq for r in records),
        here_cost_usd=None if any(c is None for c in costs) else sum(costs),
        cleanest=ranked[:REGIONS_SHOWN],
        dirtiest=list(reversed(ranked[max(REGIONS_SHOWN, len(ranked) - REGIONS_SHOWN) :])),
    )


def emission_equivalents(emissions_gco2eq: float) -> list[Equivalent]:
    """`emissions_gco2eq` as car km, flights, phone charges … (from greentune.carbon's table)."""
    from greentune.carbon import equivalents

    return equivalents(emissions_gco2eq)


def _site(record: RunRecord) -> dict:
    site = record.spec.get("site")
    return site if isinstance(site, dict) else {}
