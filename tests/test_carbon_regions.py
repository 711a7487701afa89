"""rank_regions() and tradeoff(): cleanest first, costs where priced, the offset trade-off."""

import pytest

from greentune.carbon import rank_regions, tradeoff
from greentune.errors import GreentuneError


def test_ranks_all_three_providers_cleanest_first() -> None:
    rows = rank_regions(100.0)
    assert len(rows) >= 50
    assert {r.provider for r in rows} == {"aws", "azure", "gcp"}
    emissions = [r.emissions_gco2eq for r in rows]
    assert emissions == sorted(emissions)
    assert all(r.cost_usd is None for r in rows)
    first = rows[0]
    assert first.emissions_gco2eq == pytest.approx(100.0 * first.pue * first.intensity_gco2eq_per_kwh)


def test_provider_filter() -> None:
    assert {r.provider for r in rank_regions(1.0, provider="gcp")} == {"gcp"}
    with pytest.raises(GreentuneError, match="closest: azure"):
        rank_regions(1.0, provider="azur")


def test_sku_prices_regions_and_tradeoff_with_offsets() -> None:
    rows = rank_regions(100.0, sku="p4d.24xlarge", hours=10, count=8)
    assert {r.provider for r in rows} == {"aws"}
    east = next(r for r in rows if r.region == "us-east-1")
    assert east.cost_usd == pytest.approx(10 * 21.957642)
    choice = tradeoff(rows)
    assert choice is not None
    assert choice.cheap.cost_usd < choice.clean.cost_usd
    assert choice.cheap.emissions_gco2eq > choice.clean.emissions_gco2eq
    assert choice.break_even_usd_per_t == pytest.approx(choice.saving_usd / (choice.extra_gco2eq / 1e6))
    cheap_offsets = tradeoff(rows, choice.break_even_usd_per_t / 2)
    dear_offsets = tradeoff(rows, choice.break_even_usd_per_t * 2)
    assert "buy offsets" in cheap_offsets.recommendation
    assert cheap_offsets.offset_cost_usd == pytest.approx(choice.saving_usd / 2)
    assert "cleaner, dearer" in dear_offsets.recommendation and dear_offsets.recommendation.startswith(
        f"run in {choice.clean.provider}:{choice.clean.region}"
    )


def test_no_tradeoff_without_prices() -> None:
    assert tradeoff(rank_regions(1.0)) is None


def test_sku_needs_hours() -> None:
    with pytest.raises(GreentuneError, match="--hours"):
        rank_regions(1.0, sku="p4d.24xlarge")


@pytest.mark.parametrize("energy", [0.0, -1.0, float("nan")])
def test_bad_energy(energy: float) -> None:
    with pytest.raises(GreentuneError, match="energy"):
        rank_regions(energy)
