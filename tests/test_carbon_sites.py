"""Resolving a location into a Site: countries, zones, cloud regions, the flagged default, bad names."""

import math

import pytest

from greentune.carbon import resolve_site
from greentune.errors import GreentuneError


@pytest.mark.parametrize(
    "location, expected",
    [
        ("DE", "DE"),
        ("DEU", "DE"),
        ("de", "DE"),
        ("Germany", "DE"),
        ("US-CA", "US-CA"),
        ("CA-QC", "CA-QC"),
        ("azure:westus2", "azure:westus2"),
        ("aws:us-east-1", "aws:us-east-1"),
        ("gcp:europe-west4", "gcp:europe-west4"),
    ],
)
def test_locations_resolve(location: str, expected: str) -> None:
    site = resolve_site(location)
    assert site.location == expected
    assert 0 < site.intensity_gco2eq_per_kwh < 1500
    assert site.intensity_source and site.intensity_year
    assert not site.is_default


def test_cloud_regions_take_the_provider_pue() -> None:
    assert resolve_site("gcp:europe-west4").pue == pytest.approx(1.10)
    assert resolve_site("aws:us-east-1").pue == pytest.approx(1.15)
    assert resolve_site("azure:westus2").pue == pytest.approx(1.18)
    assert resolve_site("FR").pue == 1.0


def test_no_location_is_the_world_average_and_says_so() -> None:
    site = resolve_site(None)
    assert site.is_default
    assert site.location == "WORLD"
    assert "no location given" in site.note and "world" in site.note


def test_given_intensity_and_pue_replace_the_tables() -> None:
    site = resolve_site("DE", pue=1.3, intensity_gco2eq_per_kwh=100.0)
    assert (site.pue, site.intensity_gco2eq_per_kwh, site.intensity_source) == (1.3, 100.0, "given by the user")


@pytest.mark.parametrize(
    "location, suggestion", [("DEX", "DE"), ("azure:westus9", "azure:westus2"), ("aws:us-est-1", "aws:us-east-1")]
)
def test_unknown_location_names_the_closest(location: str, suggestion: str) -> None:
    with pytest.raises(GreentuneError, match="closest") as error:
        resolve_site(location)
    assert suggestion in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_provider() -> None:
    with pytest.raises(GreentuneError, match="unknown cloud provider"):
        resolve_site("ibm:dallas")


@pytest.mark.parametrize("pue", [0.0, -1.0, math.nan, 0.9])
def test_bad_pue(pue: float) -> None:
    with pytest.raises(GreentuneError, match="PUE"):
        resolve_site("DE", pue=pue)


@pytest.mark.parametrize("intensity", [0.0, -5.0, math.nan, math.inf])
def test_bad_intensity(intensity: float) -> None:
    with pytest.raises(GreentuneError, match="intensity"):
        resolve_site("DE", intensity_gco2eq_per_kwh=intensity)


def test_unknown_sku_names_the_closest() -> None:
    with pytest.raises(GreentuneError, match="p4d.24xlarge"):
        resolve_site("aws:us-east-1", sku="p4d.24xlarg")


def test_sku_of_another_provider_is_unknown_there() -> None:
    with pytest.raises(GreentuneError, match="unknown SKU for azure"):
        resolve_site("azure:eastus", sku="p4d.24xlarge")
