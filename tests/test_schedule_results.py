"""What the schedule package hands back, on hand-made series: the plan of the mode asked for (placement.py), the
default PUE, the rows `greentune schedule --json` prints per region, and plans that cannot be changed afterwards.

Written for the survivors of mutation testing (benchmarks/mutation_test.py): each expected figure is worked
out in a comment from the series, not read back from the code.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest

from greentune.carbon import IntensitySeries
from greentune.schedule import Job, Mode, RegionChoice, compare_regions, flexible_start, plan_job

T0 = datetime(2020, 6, 1, tzinfo=UTC)


def _series(values: list[float], region: str = "XX") -> IntensitySeries:
    return IntensitySeries(T0, 3600, np.array(values, dtype=float), "average", "hand-made", region, UTC)


# 2 h at 1 kW (1 kWh per hourly slot) that may start up to 2 h late: four usable slots, 100 900 900 100 g/kWh
TWO_HOURS = Job(start=T0, duration_s=2 * 3600, window_s=2 * 3600, power_w=1000.0)
DIP_AT_BOTH_ENDS = [100.0, 900.0, 900.0, 100.0]


def test_plan_job_runs_the_planner_of_the_mode_asked_for() -> None:
    # Flexible Start: one 2-h run starting at 00:00 (100 + 900), 01:00 (900 + 900) or 02:00 (900 + 100): 1,000 g.
    # Pause & Resume: slots 0 and 3, 100 + 100 = 200 g, one pause.
    flexible = plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.FS)
    paused = plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.PR)
    assert (flexible.mode, flexible.emissions_gco2eq, flexible.pauses) == (Mode.FS, 1000.0, 0)
    assert (paused.mode, paused.emissions_gco2eq, paused.pauses) == (Mode.PR, 200.0, 1)


def test_plan_job_takes_the_mode_as_its_plain_text_too() -> None:
    # "fs" from a caller that did not build a Mode is Flexible Start (1,000 g), not Pause & Resume (200 g)
    assert plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, "fs").emissions_gco2eq == 1000.0  # type: ignore[arg-type]


def test_plan_job_without_a_pue_charges_the_it_energy_only() -> None:
    # the default PUE is 1.0: 1,000 g as above; PUE 1.5 gives 1,500 g
    assert plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.FS).pue == 1.0
    assert plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.FS).emissions_gco2eq == 1000.0
    assert plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.FS, pue=1.5).emissions_gco2eq == 1500.0


def test_compare_regions_ranks_each_region_by_the_plan_of_the_mode_asked_for() -> None:
    # AA: Flexible Start 1,000 g, Pause & Resume 200 g; BB (flat 400): 800 g either way.
    by_region = {"AA": _series(DIP_AT_BOTH_ENDS, "AA"), "BB": _series([400.0] * 4, "BB")}
    flexible = compare_regions(TWO_HOURS, ["AA", "BB"], by_region.get, Mode.FS)
    paused = compare_regions(TWO_HOURS, ["AA", "BB"], by_region.get, Mode.PR)
    assert [(c.region, c.emissions_gco2eq) for c in flexible] == [("BB", 800.0), ("AA", 1000.0)]
    assert [(c.region, c.emissions_gco2eq) for c in paused] == [("AA", 200.0), ("BB", 800.0)]


def test_a_series_backed_row_carries_its_plan() -> None:
    # Flexible Start on 300 100 100 300 for 1 h, window 1 h: start 01:00, 100 g against 300 g now (66.67 % saved)
    job = Job(start=T0, duration_s=3600, window_s=3600, power_w=1000.0)
    plan = plan_job(_series([300.0, 100.0, 100.0, 300.0]), job, Mode.FS)
    row = RegionChoice("XX", plan.emissions_gco2eq, plan.source, plan).to_dict()
    assert row == {
        "region": "XX",
        "emissions_gco2eq": 100.0,
        "source": "hand-made",
        "series_backed": True,
        "start": "2020-06-01T01:00:00+00:00",
        "savings_pct": pytest.approx(100 * 200 / 300),
        "emissions_now_gco2eq": 300.0,
        "pauses": 0,
        "notes": [],
    }


def test_an_annual_average_row_says_why_it_has_no_plan() -> None:
    row = RegionChoice("SE", 45.0, "Ember (2023)", note="annual average").to_dict()
    assert row == {
        "region": "SE",
        "emissions_gco2eq": 45.0,
        "source": "Ember (2023)",
        "series_backed": False,
        "note": "annual average",
    }
    assert "note" not in RegionChoice("SE", 45.0, "Ember (2023)").to_dict()


def test_a_region_choice_cannot_be_changed_after_the_ranking() -> None:
    choice = RegionChoice("SE", 45.0, "Ember (2023)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        choice.emissions_gco2eq = 0.0  # type: ignore[misc]


def test_a_region_without_a_series_is_charged_its_annual_average_times_the_pue() -> None:
    # data/grid_intensity_countries.csv: SE 35.89 gCO2eq/kWh (Ember, 2024); 2 kWh × 35.89 × PUE 1.5 = 107.67 g
    (sweden,) = compare_regions(TWO_HOURS, ["SE"], lambda region: None, Mode.FS, pue=1.5)
    assert sweden.emissions_gco2eq == pytest.approx(107.67, rel=1e-12)
    assert (sweden.plan, sweden.source.endswith("(2024)")) == (None, True)


def test_a_plan_cannot_be_changed_once_made() -> None:
    plan = flexible_start(_series(DIP_AT_BOTH_ENDS), TWO_HOURS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.emissions_gco2eq = 0.0  # type: ignore[misc]


def test_a_plan_as_json_states_its_segments_and_savings_against_running_now() -> None:
    # Pause & Resume on 100 900 900 100: 00:00–01:00 and 03:00–04:00, 200 g; running now (00:00–02:00) 1,000 g
    plan = plan_job(_series(DIP_AT_BOTH_ENDS), TWO_HOURS, Mode.PR)
    assert plan.to_dict() == {
        "mode": "pr",
        "mode_name": "Pause & Resume",
        "region": "XX",
        "requested_start": "2020-06-01T00:00:00+00:00",
        "deadline": "2020-06-01T04:00:00+00:00",
        "start": "2020-06-01T00:00:00+00:00",
        "end": "2020-06-01T04:00:00+00:00",
        "segments": [
            {"start": "2020-06-01T00:00:00+00:00", "end": "2020-06-01T01:00:00+00:00"},
            {"start": "2020-06-01T03:00:00+00:00", "end": "2020-06-01T04:00:00+00:00"},
        ],
        "pauses": 1,
        "pauses_per_hour": 0.5,  # 1 pause over 2 h of running
        "energy_kwh": 2.0,
        "emissions_now_gco2eq": 1000.0,
        "emissions_plan_gco2eq": 200.0,
        "savings_gco2eq": 800.0,
        "savings_pct": 80.0,
        "pue": 1.0,
        "source": "hand-made",
        "kind": "average",
        "slot_s": 3600,
        "notes": [],
    }


def test_savings_against_running_now_on_a_grid_without_emissions_are_zero() -> None:
    job = Job(start=T0, duration_s=3600, window_s=3600, power_w=1000.0)
    assert flexible_start(_series([0.0, 0.0]), job).savings_pct == 0.0
    # below 1 g the saving is still a share: 0.5 g now, 0.25 g at 01:00 → 50 %
    assert flexible_start(_series([0.5, 0.25]), job).savings_pct == 50.0


def test_a_segment_cannot_be_changed_once_planned() -> None:
    segment = flexible_start(_series(DIP_AT_BOTH_ENDS), TWO_HOURS).segments[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.end = T0  # type: ignore[misc]
