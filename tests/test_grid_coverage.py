"""ENTSO-E coverage against published annual figures, and the fuel mapping, on hand-computed cases."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from greentune.carbon import entsoe_availability, load_entsoe
from greentune.carbon.entsoe import entsoe_coverage, generation_to_intensity
from greentune.carbon.entsoe_coverage import (
    FuelGap,
    GridCoverage,
    PublishedAnnual,
    fuel_energy_twh,
    grid_coverage,
    published_annual,
)
from greentune.carbon.fuel_factors import fuel_factors
from greentune.data import read_table
from greentune.errors import GreentuneError

TWH_PER_HOUR = 1e6  # MW held for one hour = 1 TWh
GROUPS = ("coal", "gas", "other_fossil", "nuclear", "hydro", "wind", "solar", "bioenergy", "other_renewables")
RENEWABLE_TYPES = (
    "Biomass",
    "Geothermal",
    "Hydro Run-of-river and poundage",
    "Hydro Water Reservoir",
    "Marine",
    "Other renewable",
    "Solar",
    "Wind Onshore",
    "Wind Offshore",
)


def hourly(columns: dict[str, list[float]]) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=len(next(iter(columns.values()))), freq="h", tz="UTC")
    return pd.DataFrame(columns, index=index)


def published(generation_twh: float, intensity: float, **group_twh: float) -> PublishedAnnual:
    groups = dict.fromkeys(GROUPS, 0.0) | group_twh
    return PublishedAnnual("XX", 2020, generation_twh, groups, intensity, "Ember, hand-made", 2022)


# 6 TWh gas, 2 TWh 'Other', 2 TWh onshore wind, no solar; the publication says 20 TWh at 300 g
FRAME = {
    "Fossil Gas": [3 * TWH_PER_HOUR, 3 * TWH_PER_HOUR],
    "Other": [TWH_PER_HOUR, TWH_PER_HOUR],
    "Wind Onshore": [TWH_PER_HOUR, TWH_PER_HOUR],
    "Solar": [0.0, np.nan],
}
PUBLISHED = published(20.0, 300.0, gas=8.0, other_fossil=3.0, wind=5.0, solar=4.0)


def test_energy_per_fuel_counts_missing_and_negative_readings_as_zero():
    frame = hourly({"Fossil Gas": [2e6, np.nan, 1e6], "Hydro Pumped Storage": [-5e5, 5e5, 0.0]})
    assert fuel_energy_twh(frame) == {"Fossil Gas": pytest.approx(3.0), "Hydro Pumped Storage": pytest.approx(0.5)}
    quarter_hours = pd.DataFrame(
        {"Nuclear": [4e6] * 4}, index=pd.date_range("2020-01-01", periods=4, freq="15min", tz="UTC")
    )
    assert fuel_energy_twh(quarter_hours) == {"Nuclear": pytest.approx(4.0)}  # 4 × 4e6 MW × 0.25 h


def test_coverage_where_other_is_identified_as_gas():
    coverage = grid_coverage("NL", 2020, hourly(FRAME), PUBLISHED)
    assert coverage.file_generation_twh == pytest.approx(10.0)
    assert coverage.coverage_pct == pytest.approx(50.0)
    # NL 'Other' is gas CHP: (6 × 490 + 2 × 490 + 2 × 11) / 10
    assert coverage.file_intensity_gco2eq_per_kwh == pytest.approx(394.2)
    assert coverage.difference_pct == pytest.approx(100 * (394.2 / 300 - 1))
    assert coverage.default_unknown_share == 0.0
    # gas (6 + 2 of 8 TWh) is not under-reported; other fossil, wind (2 of 5) and solar are, in table order
    assert coverage.under_reported == (
        FuelGap("other_fossil", 3.0, 0.0),
        FuelGap("wind", 5.0, pytest.approx(2.0)),
        FuelGap("solar", 4.0, 0.0),
    )
    assert coverage.thin and coverage.off
    assert coverage.notes() == (
        "below 90 % coverage: NL 2020: the ENTSO-E data covers 50 % of the published generation "
        "(10.0 of 20.0 TWh, Ember 2022); under-reported: other fossil 0.0 of 3.0 TWh, wind 2.0 of 5.0 TWh, "
        "solar 0.0 of 4.0 TWh",
        "more than 15 % off the published figure: NL 2020: annual mean of this data 394 gCO2eq/kWh vs 300 "
        "published (+31 %); absolute emissions from this series are unreliable (see docs/GRID_DATA.md)",
    )


def test_coverage_where_nobody_says_what_other_is():
    coverage = grid_coverage("BE", 2020, hourly(FRAME), PUBLISHED)
    # 'Other' keeps the assumed-thermal default: (6 × 490 + 2 × 700 + 2 × 11) / 10
    assert coverage.file_intensity_gco2eq_per_kwh == pytest.approx(436.2)
    assert coverage.default_unknown_share == pytest.approx(0.2)
    assert [gap.group for gap in coverage.under_reported] == ["other_fossil", "wind", "solar"]  # gas 6 of 8: not
    assert coverage.notes()[2] == (
        "BE 2020: 'Other' is 20 % of the file's generation and no source says what it is; it is charged the "
        "default 700 gCO2eq/kWh (assumed thermal) and dominates the error"
    )


def test_a_good_country_year_is_neither_thin_nor_off_and_says_so_plainly():
    frame = hourly({"Nuclear": [4.75 * TWH_PER_HOUR] * 2, "Fossil Gas": [0.25 * TWH_PER_HOUR] * 2})
    coverage = grid_coverage("FR", 2019, frame, published(10.0, 40.0, nuclear=9.5, gas=0.5))
    assert coverage.file_intensity_gco2eq_per_kwh == pytest.approx((9.5 * 12 + 0.5 * 490) / 10)  # 35.9
    assert not coverage.thin and not coverage.off and coverage.under_reported == ()
    assert coverage.notes() == (
        "FR 2019: the ENTSO-E data covers 100 % of the published generation (10.0 of 10.0 TWh, Ember 2022)",
        "FR 2019: annual mean of this data 36 gCO2eq/kWh vs 40 published (-10 %)",
    )


@pytest.mark.parametrize(
    ("file_twh", "intensity", "thin", "off"),
    [(9.0, 114.9, False, False), (8.99, 100.0, True, False), (10.0, 115.1, False, True), (10.0, 84.9, False, True)],
)
def test_thresholds_are_90_percent_coverage_and_15_percent_difference(file_twh, intensity, thin, off):
    coverage = GridCoverage("XX", 2020, file_twh, intensity, published(10.0, 100.0), (), 0.0)
    assert (coverage.thin, coverage.off) == (thin, off)


def test_without_a_published_figure_the_note_says_it_is_unchecked():
    coverage = grid_coverage("XX", 2020, hourly({"Nuclear": [TWH_PER_HOUR, TWH_PER_HOUR]}), None)
    assert coverage.coverage_pct is None and not coverage.thin and not coverage.off
    assert coverage.notes() == ("XX 2020: greentune has no published annual figure to check the ENTSO-E data against",)


def test_an_unknown_fuel_is_a_clear_error():
    with pytest.raises(GreentuneError, match=r"no emission factor for ENTSO-E fuel\(s\) \['Fusion'\]"):
        grid_coverage("DE", 2020, hourly({"Fusion": [1.0, 1.0]}), None)
    with pytest.raises(GreentuneError, match="at least two rows"):
        fuel_energy_twh(hourly({"Nuclear": [1.0]}))


def test_no_renewable_type_is_charged_a_thermal_factor_anywhere():
    countries = {row["country"] for row in read_table("fuel_emission_factors")}
    assert {"NL", "IT", "LV", "DE", "SE"} <= countries
    for country in countries:
        factors = fuel_factors(country)
        for psr_type in RENEWABLE_TYPES:
            assert factors[psr_type].intensity_gco2eq_per_kwh <= 230, (country, psr_type)
    default = fuel_factors()
    assert (default["Other renewable"].intensity_gco2eq_per_kwh, default["Other renewable"].published_group) == (
        230,
        "bioenergy",
    )
    assert (default["Marine"].intensity_gco2eq_per_kwh, default["Marine"].published_group) == (17, "other_renewables")


def test_other_is_read_per_country_and_keeps_the_default_elsewhere():
    assert [fuel_factors(c)["Other"].intensity_gco2eq_per_kwh for c in ("NL", "IT", "LV", "DE", "SE", "BE", "")] == [
        490,
        490,
        490,
        490,
        230,
        700,
        700,
    ]
    assert fuel_factors("BE")["Other"].is_default_unknown and not fuel_factors("NL")["Other"].is_default_unknown
    assert fuel_factors("NL")["Fossil Gas"] == fuel_factors()["Fossil Gas"]  # an override touches only its type


def test_intensity_per_slot_uses_the_countrys_reading_of_other():
    frame = hourly({"Fossil Gas": [100.0], "Other": [100.0]})
    assert generation_to_intensity(frame, "NL").iloc[0] == pytest.approx(490.0)
    assert generation_to_intensity(frame, "BE").iloc[0] == pytest.approx((490 + 700) / 2)
    assert generation_to_intensity(frame, "SE").iloc[0] == pytest.approx((490 + 230) / 2)


def test_published_table_rows_add_up_and_cite_their_source():
    rows = read_table("grid_published_annual")
    assert len(rows) == 120  # 30 countries × 2017–2020
    for row in rows:
        assert row["source"].startswith("Ember") and row["year"].isdigit() and row["published"] == "2022"
        groups = sum(float(row[f"{group}_twh"] or 0) for group in GROUPS)
        assert groups == pytest.approx(float(row["generation_twh"]), abs=0.06), row["country"] + row["year"]
    nl = published_annual("nl", 2020)
    assert nl is not None and (nl.generation_twh, nl.intensity_gco2eq_per_kwh) == (123.06, 394.1)
    assert published_annual("NL", 2016) is None


def test_a_series_carries_the_notes_of_every_year_it_spans():
    berlin = ZoneInfo("Europe/Berlin")
    series = load_entsoe("NL", datetime(2019, 12, 31, 12, tzinfo=berlin), datetime(2020, 1, 1, 12, tzinfo=berlin))
    assert len(series.notes) == 4
    assert series.notes[0].startswith("below 90 % coverage: NL 2019: the ENTSO-E data covers 70 % of the published")
    assert "of 120.8 TWh, Ember 2022" in series.notes[0]
    assert series.notes[2].startswith("below 90 % coverage: NL 2020: the ENTSO-E data covers 71 % of the published")
    assert series.notes[3].startswith("more than 15 % off the published figure: NL 2020:")
    assert series.notes[3].endswith(
        "vs 394 published (+19 %); absolute emissions from this series are unreliable (see docs/GRID_DATA.md)"
    )


def test_schedule_json_carries_the_coverage_note():
    greentune = str(Path(sys.executable).with_name("greentune"))
    args = ["schedule", "--region", "NL", "--start", "2020-06-01T00:00", "--duration", "6h", "--json"]
    done = subprocess.run([greentune, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)["notes"]
    assert any(note.startswith("below 90 % coverage: NL 2020: the ENTSO-E data covers 71 %") for note in notes)
    assert any(note.startswith("more than 15 % off the published figure: NL 2020") for note in notes)


def test_every_country_year_in_the_doc_is_within_15_percent_or_flagged_in_its_notes():
    doc = (Path(__file__).parent.parent / "docs" / "GRID_DATA.md").read_text(encoding="utf-8")
    rows = [line.split(" | ") for line in doc.splitlines() if line.startswith("| ") and line[2:4].isupper()]
    rows = [cells for cells in rows if cells[1].isdigit()]  # the country-year table
    assert len(rows) == sum(len(years) for years in entsoe_availability().values()) == 107
    for cells in rows:
        country, year = cells[0].strip("| "), int(cells[1])
        coverage = entsoe_coverage(country, year)
        assert cells[11] == f"{coverage.difference_pct:+.0f} %", (
            f"{country} {year}: rerun benchmarks/grid_validation.py"
        )
        notes = coverage.notes()
        if abs(coverage.difference_pct) > 15:
            assert notes[1].startswith(f"more than 15 % off the published figure: {country} {year}:")
        if coverage.coverage_pct < 90:
            assert notes[0].startswith(f"below 90 % coverage: {country} {year}:")


def test_every_plan_on_a_flagged_series_carries_its_flag():
    """What `greentune schedule` and `run --carbon-aware` print and record: the plan's notes."""
    from greentune.schedule import Job, plan_job

    stockholm = ZoneInfo("Europe/Stockholm")
    start = datetime(2019, 6, 1, tzinfo=stockholm)
    series = load_entsoe("SE", start, datetime(2019, 6, 3, tzinfo=stockholm))
    for mode in ("fs", "pr"):
        plan = plan_job(series, Job(start=start, duration_s=6 * 3600, window_s=12 * 3600, power_w=1000.0), mode)
        assert plan.notes[-2:] == series.notes
        assert plan.notes[-1].startswith(
            "more than 15 % off the published figure: SE 2019: annual mean of this data 29"
        )
