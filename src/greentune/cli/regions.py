"""`greentune regions` — where a job of a given energy emits least, and what it costs there."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from greentune.carbon.prices import Pricing
from greentune.cli.estimate import require_sku_for_prices
from greentune.cli.json_output import echo_json


def register(app: typer.Typer) -> None:
    """Add `greentune regions` to the app."""

    @app.command("regions")
    def regions(
        energy_kwh: float = typer.Option(
            ..., "--energy-kwh", help="IT energy of the job in kWh (the provider's PUE is applied)."
        ),
        provider: str | None = typer.Option(None, "--provider", help="aws, azure or gcp (default: all three)."),
        sku: str | None = typer.Option(None, "--sku", help="SKU to price in each region (needs --hours)."),
        hours: float | None = typer.Option(None, "--hours", help="Hours the SKU runs."),
        count: int = typer.Option(
            1, "--count", min=1, help="Devices used (instances billed = ⌈count ÷ devices per instance⌉)."
        ),
        pricing: Pricing = typer.Option(Pricing.ON_DEMAND, "--pricing", help="How the SKU's hours are bought."),
        offset_usd_per_t: float | None = typer.Option(
            None, "--offset-usd-per-t", help="Carbon offset price in USD per tCO2eq, for the trade-off."
        ),
        prices: str | None = typer.Option(None, "--prices", help="YAML file of price rows (or $GREENTUNE_PRICES)."),
        top: int = typer.Option(25, "--top", min=1, help="Rows shown in the table (JSON lists all)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Rank cloud regions by the emissions of a job, with cost where a price is published."""
        from greentune.carbon import rank_regions, tradeoff

        require_sku_for_prices(sku, prices, pricing)

        rows = rank_regions(
            energy_kwh,
            provider=provider,
            sku=sku,
            hours=hours,
            offset_usd_per_t=offset_usd_per_t,
            count=count,
            pricing=pricing,
            prices=prices,
        )
        choice = tradeoff(rows, offset_usd_per_t)
        if as_json:
            echo_json(
                {
                    "energy_kwh": energy_kwh,
                    "regions": [row.to_dict() for row in rows],
                    "tradeoff": choice.to_dict() if choice else None,
                }
            )
            return
        console = Console()
        priced = any(row.cost_usd is not None for row in rows)
        table = Table(
            title=f"{len(rows)} regions for {energy_kwh:g} kWh, cleanest first (showing {min(top, len(rows))})"
        )
        for column in ("#", "region", "where", "gCO2eq/kWh", "PUE", "kgCO2eq", *(["USD"] if priced else []), "data"):
            table.add_column(
                column, justify="right" if column in ("#", "gCO2eq/kWh", "PUE", "kgCO2eq", "USD") else "left"
            )
        for rank, row in enumerate(rows[:top], start=1):
            cost = [f"{row.cost_usd:,.2f}" if row.cost_usd is not None else "–"] if priced else []
            table.add_row(
                str(rank),
                f"{row.provider}:{row.region}",
                f"{row.name} ({row.location})",
                f"{row.intensity_gco2eq_per_kwh:g}",
                f"{row.pue:g}",
                f"{row.emissions_gco2eq / 1000:,.3f}",
                *cost,
                f"Electricity Maps {row.year}" if "Electricity Maps" in row.source else row.source[:40],
            )
        console.print(table)
        if choice is not None:
            console.print(f"[bold]Trade-off:[/bold] {choice.recommendation}")
        elif sku is not None:
            console.print(
                "No cheaper-but-dirtier choice: among the priced regions the cleanest is also the cheapest (or only one is priced)."
            )
