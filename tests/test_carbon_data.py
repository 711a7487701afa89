"""The published-number tables: every row cites a source and a year, and the required rows are there."""

import csv
from importlib import resources

import pytest

from greentune.carbon import hardware_names, lookup_hardware, rank_regions, resolve_site

TABLES = [
    "grid_intensity_countries",
    "grid_intensity_subnational",
    "cloud_regions",
    "provider_pue",
    "accelerators",
    "sku_prices",
    "equivalents",
    "estimate_assumptions",
]


def rows(name: str) -> list[dict[str, str]]:
    text = (resources.files("greentune") / "data" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize("table", TABLES)
def test_every_row_has_a_source_and_a_year(table: str) -> None:
    for row in rows(table):
        assert row["source"].strip(), f"{table}: row without source: {row}"
        assert row["year"].strip().isdigit(), f"{table}: row without year: {row}"


def test_countries_cover_iso_codes_and_the_world() -> None:
    countries = rows("grid_intensity_countries")
    assert len(countries) > 150
    codes = {row["alpha2"] for row in countries} | {row["alpha3"] for row in countries}
    assert {"DE", "DEU", "US", "USA", "FR", "IN", "CN", "WORLD"} <= codes
    for row in countries:
        assert 0 <= float(row["intensity_gco2eq_per_kwh"]) < 1500


def test_subnational_rows_for_us_states_and_canadian_provinces() -> None:
    codes = {row["code"] for row in rows("grid_intensity_subnational")}
    assert {"US-CA", "US-TX", "US-WA", "CA-QC", "CA-ON", "CA-AB"} <= codes


def test_three_providers_with_at_least_fifty_regions() -> None:
    regions = rows("cloud_regions")
    assert len(regions) >= 50
    assert {row["provider"] for row in regions} == {"aws", "azure", "gcp"}
    assert {row["provider"] for row in rows("provider_pue")} >= {"aws", "azure", "gcp"}


def test_required_hardware_is_listed() -> None:
    for name in [
        "K80",
        "P40",
        "P100",
        "T4",
        "V100",
        "V100S",
        "A10",
        "L4",
        "A100 40GB PCIe",
        "A100 80GB PCIe",
        "H100",
        "H100 PCIe",
        "H200",
        "MI250",
        "MI300X",
        "TPUv2",
        "TPUv3",
        "TPUv4",
    ]:
        assert lookup_hardware(name).power_w, name
    assert len(hardware_names()) > 25


def test_embodied_is_empty_where_nothing_is_published() -> None:
    assert lookup_hardware("V100").embodied_kgco2e is None
    assert lookup_hardware("A100").embodied_kgco2e == 150


def test_required_skus_have_dated_prices() -> None:
    prices = rows("sku_prices")
    skus = {row["sku"] for row in prices}
    assert {
        "ND40rs_v2",
        "NC24ads_A100_v4",
        "ND96isr_H100_v5",
        "p3.2xlarge",
        "p3.16xlarge",
        "p4d.24xlarge",
        "p5.48xlarge",
        "a2-highgpu-1g",
        "a2-highgpu-8g",
    } <= skus
    assert all(row["date"] for row in prices)
    seed = {row["pricing"]: float(row["usd_per_hour"]) for row in prices if row["sku"] == "ND40rs_v2"}
    assert seed == {"on_demand": 22.03, "low_priority": 4.41}


def test_site_and_ranking_read_the_same_region_figures() -> None:
    site = resolve_site("gcp:europe-west4")
    row = next(r for r in rank_regions(1.0, provider="gcp") if r.region == "europe-west4")
    assert row.intensity_gco2eq_per_kwh == site.intensity_gco2eq_per_kwh
    assert row.pue == site.pue


@pytest.mark.parametrize(
    "nvml_name, expected",
    [
        ("Tesla V100-SXM2-32GB", "V100"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100-PCIE-40GB", "A100 40GB PCIe"),
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("AMD Instinct MI300X", "MI300X"),
        ("Tesla T4", "T4"),
    ],
)
def test_device_names_as_drivers_report_them(nvml_name: str, expected: str) -> None:
    assert lookup_hardware(nvml_name).name == expected


def test_the_package_names_resolve_lazily_and_none_is_shadowed_by_a_module() -> None:
    # three lists name the package's API (__all__, the lazy homes, the type checker's imports): one missing from the
    # homes would fail only when first used; a name shared with a submodule would turn into that module once the
    # submodule is imported by anyone
    import subprocess
    import sys

    import greentune.carbon as carbon

    assert sorted(carbon.__all__) == sorted([*carbon._HOMES, "equivalents", "sci"])
    code = (
        "import importlib, pkgutil, sys, types, greentune.carbon as carbon\n"
        "heavy = [m for m in ('numpy', 'pandas') if m in sys.modules]\n"
        "for module in pkgutil.iter_modules(carbon.__path__):\n"
        "    importlib.import_module(f'greentune.carbon.{module.name}')\n"
        "print(heavy, [name for name in carbon.__all__ if isinstance(getattr(carbon, name), types.ModuleType)])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] []"
