"""account(): operational, embodied, cost, and the inputs each result lists; sci() and equivalents()."""

import json
import math

import pytest

from greentune.carbon import account, embodied_gco2eq, equivalents, lifetime_s, resolve_site, sci
from greentune.errors import GreentuneError


def test_operational_is_energy_times_pue_times_intensity() -> None:
    site = resolve_site("DE", pue=1.2, intensity_gco2eq_per_kwh=400.0)
    acct = account(2.0, 3600.0, site)
    assert acct.grid_energy_kwh == pytest.approx(2.4)
    assert acct.emissions_gco2eq == pytest.approx(2.0 * 1.2 * 400.0)
    assert acct.cost_usd is None and acct.embodied_gco2eq is None
    names = {i.name: i for i in acct.inputs}
    assert names["energy"].origin == "measured"
    assert names["grid intensity"].source == "given by the user"


def test_results_cite_their_data_rows() -> None:
    acct = account(1.0, 60.0, resolve_site("gcp:europe-west4"), energy_source="estimated")
    tables = {row.table for row in acct.rows}
    assert {"cloud_regions", "provider_pue"} <= tables
    assert all(row.source and row.year for row in acct.rows)
    assert {i.name: i for i in acct.inputs}["energy"].origin == "estimated"
    json.dumps(acct.to_dict())


def test_default_location_is_flagged_in_the_result() -> None:
    acct = account(1.0, 60.0, resolve_site(None))
    assert acct.is_default_location
    assert any("no location given" in note for note in acct.notes)


def test_seed_cost_nd40rs_v2_on_demand_and_low_priority() -> None:
    site = resolve_site("azure:westus2", sku="ND40rs_v2")
    on_demand = account(0.38, 0.158 * 3600, site, count=8)
    low = account(0.38, 0.158 * 3600, site, count=8, pricing="low_priority")
    assert on_demand.cost_usd == pytest.approx(0.158 * 22.03)
    assert low.cost_usd == pytest.approx(0.158 * 4.41)
    assert any("has no region" in note for note in on_demand.notes)


def test_instances_billed_are_whole_vms() -> None:
    site = resolve_site("aws:us-east-1", sku="p3.2xlarge")
    acct = account(1.0, 3600.0, site, count=3)
    assert acct.cost_usd == pytest.approx(3 * 3.06)
    eight = resolve_site("aws:us-east-1", sku="p3.16xlarge")
    assert account(1.0, 3600.0, eight, count=1).cost_usd == pytest.approx(24.48)


def test_missing_price_is_none_with_a_note() -> None:
    acct = account(1.0, 3600.0, resolve_site("aws:us-east-1", sku="p4d.24xlarge"), pricing="spot")
    assert acct.cost_usd is None
    assert any("no spot price" in note for note in acct.notes)


def test_user_prices_yaml_overrides_and_adds(tmp_path, monkeypatch) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "prices:\n"
        "  - {provider: azure, sku: ND40rs_v2, region: westus2, pricing: spot, usd_per_hour: 3.0, accelerator_count: 8, date: 2026-01-01, source: my invoice}\n"
        "  - {provider: aws, sku: p3.2xlarge, region: us-east-1, pricing: on_demand, usd_per_hour: 2.0, accelerator_count: 1, date: 2026-01-01, source: negotiated}\n"
    )
    spot = account(
        1.0, 3600.0, resolve_site("azure:westus2", sku="ND40rs_v2", prices=str(prices)), count=8, pricing="spot"
    )
    assert spot.cost_usd == pytest.approx(3.0)
    monkeypatch.setenv("GREENTUNE_PRICES", str(prices))
    cheaper = account(1.0, 3600.0, resolve_site("aws:us-east-1", sku="p3.2xlarge"))
    assert cheaper.cost_usd == pytest.approx(2.0)
    assert any(i.source == "negotiated" for i in cheaper.inputs)


def test_bad_prices_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text("prices:\n  - {provider: aws, sku: x, pricing: reserved, usd_per_hour: 1, date: 2026, source: me}\n")
    with pytest.raises(GreentuneError, match="pricing"):
        resolve_site("aws:us-east-1", sku="x", prices=str(bad))
    with pytest.raises(GreentuneError, match="no prices file at"):
        resolve_site("aws:us-east-1", sku="p3.2xlarge", prices=str(tmp_path / "missing.yaml"))


def test_sci_embodied_acceptance_example() -> None:
    grams = embodied_gco2eq(1000.0, 3600.0, lifetime_s(4), 1, 1)
    assert grams == pytest.approx(28.5, abs=0.05)
    assert sci(100.0, grams, 2) == pytest.approx((100.0 + grams) / 2)


def test_embodied_share_of_a_server() -> None:
    half = embodied_gco2eq(1000.0, 3600.0, lifetime_s(4), 4, 8)
    assert half == pytest.approx(embodied_gco2eq(1000.0, 3600.0, lifetime_s(4)) / 2)
    with pytest.raises(GreentuneError, match="exceed"):
        embodied_gco2eq(1000.0, 3600.0, lifetime_s(4), 9, 8)


def test_account_embodied_from_the_bloom_figures() -> None:
    acct = account(1.0, 3600.0, resolve_site("FR"), count=8, embodied_hardware="A100")
    # BLOOM's method: the A100's 150 kg plus its share of the 8-GPU server's 2,500 kg, over 6 years at 85 % use
    expected = 8 * (150_000.0 + 2_500_000.0 / 8) * 3600.0 / (lifetime_s(6) * 0.85)
    assert acct.embodied_gco2eq == pytest.approx(expected)
    assert acct.total_gco2eq == pytest.approx(acct.emissions_gco2eq + expected)
    server = account(1.0, 3600.0, resolve_site("FR"), count=4, embodied_hardware="HPE Apollo 6500 Gen10 Plus")
    assert server.embodied_gco2eq == pytest.approx(2_500_000.0 * 3600.0 / (lifetime_s(6) * 0.85) / 2)


def test_embodied_without_published_figure_is_none_with_a_note() -> None:
    acct = account(1.0, 3600.0, resolve_site("FR"), embodied_hardware="V100")
    assert acct.embodied_gco2eq is None
    assert any("no published embodied figure for V100" in note for note in acct.notes)
    given = account(
        1.0, 3600.0, resolve_site("FR"), embodied_hardware="V100", embodied_kgco2e=100.0, lifetime_years=4.0
    )
    assert given.embodied_gco2eq == pytest.approx(embodied_gco2eq(100.0, 3600.0, lifetime_s(4)))


@pytest.mark.parametrize("duration_s", [0.0, -1.0, math.nan])
def test_bad_duration(duration_s: float) -> None:
    with pytest.raises(GreentuneError, match="duration"):
        account(1.0, duration_s, resolve_site("DE"))


@pytest.mark.parametrize("energy_kwh", [-0.1, math.nan, math.inf])
def test_bad_energy(energy_kwh: float) -> None:
    with pytest.raises(GreentuneError, match="energy"):
        account(energy_kwh, 60.0, resolve_site("DE"))


def test_sci_needs_functional_units() -> None:
    with pytest.raises(GreentuneError, match="functional units"):
        sci(1.0, 0.0, 0)


def test_equivalents_carbontracker_car_km() -> None:
    car = next(e for e in equivalents(84_738_484.20) if e.unit == "km")
    assert car.value == pytest.approx(703_808.01, abs=0.01)
    assert all(e.source and e.year for e in equivalents(1.0))
    with pytest.raises(GreentuneError):
        equivalents(math.nan)


def test_unknown_pricing_kind() -> None:
    with pytest.raises(GreentuneError, match="pricing must be one of"):
        account(1.0, 60.0, resolve_site("DE"), pricing="reserved")
