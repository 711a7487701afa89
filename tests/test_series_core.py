"""IntensitySeries validation, time zones and DST, the CSV loader, and timeline emissions."""

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from greentune.carbon import IntensitySeries, intervals_from_power, load_csv_series, timeline_emissions
from greentune.errors import GreentuneError

BERLIN = ZoneInfo("Europe/Berlin")


def hourly(start, values, **kwargs):
    times = [start + timedelta(hours=h) for h in range(len(values))]
    return IntensitySeries.from_points(times, values, kind="average", source="test", region="XX", **kwargs)


def test_naive_timestamps_are_refused():
    with pytest.raises(GreentuneError, match="no time zone"):
        hourly(datetime(2020, 1, 1), [100.0, 200.0])


def test_gap_is_an_error_unless_a_fill_is_named():
    times = [datetime(2020, 1, 1, h, tzinfo=UTC) for h in (0, 1, 3, 4)]
    values = [100.0, 200.0, 400.0, 500.0]
    with pytest.raises(GreentuneError, match="1 missing slots.*02:00"):
        IntensitySeries.from_points(times, values, kind="average", source="t", region="XX")
    ffilled = IntensitySeries.from_points(times, values, kind="average", source="t", region="XX", fill="ffill")
    interpolated = IntensitySeries.from_points(
        times, values, kind="average", source="t", region="XX", fill="interpolate"
    )
    assert ffilled.values_gco2eq_per_kwh.tolist() == [100, 200, 200, 400, 500]
    assert interpolated.values_gco2eq_per_kwh.tolist() == [100, 200, 300, 400, 500]


def test_nan_value_counts_as_a_gap():
    with pytest.raises(GreentuneError, match="missing"):
        hourly(datetime(2020, 1, 1, tzinfo=UTC), [100.0, float("nan"), 300.0])


def test_duplicates_negative_values_and_unknown_kind_are_refused():
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(GreentuneError, match="strictly increasing"):
        IntensitySeries.from_points([start, start], [1.0, 2.0], kind="average", source="t", region="XX")
    with pytest.raises(GreentuneError, match="negative"):
        hourly(start, [100.0, -5.0])
    with pytest.raises(GreentuneError, match="kind"):
        IntensitySeries.from_points(
            [start, start + timedelta(hours=1)], [1.0, 2.0], kind="hourly", source="t", region="XX"
        )


def test_spring_forward_day_has_23_hourly_slots_in_berlin():
    # local midnight to midnight on 2020-03-29 is 23 real hours
    times, moment = [], datetime(2020, 3, 28, 23, tzinfo=UTC)
    while moment < datetime(2020, 3, 29, 22, tzinfo=UTC):
        times.append(moment.astimezone(BERLIN))
        moment += timedelta(hours=1)
    series = IntensitySeries.from_points(times, list(range(23)), kind="average", source="t", region="DE", tz=BERLIN)
    day = series.values_between(datetime(2020, 3, 29, tzinfo=BERLIN), datetime(2020, 3, 30, tzinfo=BERLIN))
    assert len(day) == 23
    assert series.slot_start(2).isoformat() == "2020-03-29T03:00:00+02:00"  # 02:00 does not exist


def test_fall_back_hour_appears_twice_with_different_offsets():
    start = datetime(2020, 10, 25, 0, tzinfo=UTC)  # 02:00 CEST
    series = hourly(start, [10.0, 20.0, 30.0], tz=BERLIN)
    assert [series.slot_start(i).isoformat() for i in range(2)] == [
        "2020-10-25T02:00:00+02:00",
        "2020-10-25T02:00:00+01:00",
    ]
    assert series.slot_of(datetime(2020, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)) == 1


def test_mixed_offsets_in_points_are_one_instant_line():
    times = [datetime(2020, 1, 1, 0, tzinfo=UTC), datetime(2020, 1, 1, 2, tzinfo=timezone(timedelta(hours=1)))]
    series = IntensitySeries.from_points(times, [1.0, 2.0], kind="marginal", source="t", region="XX")
    assert series.step_s == 3600 and series.values_gco2eq_per_kwh.tolist() == [1.0, 2.0]


def test_window_outside_the_series_is_a_clear_error():
    series = hourly(datetime(2020, 1, 1, tzinfo=UTC), [100.0] * 24)
    with pytest.raises(GreentuneError, match="covers .* but .* was asked for"):
        series.values_between(datetime(2020, 1, 1, 12, tzinfo=UTC), datetime(2020, 1, 2, 6, tzinfo=UTC))


def test_csv_loader_reads_offsets_across_dst(tmp_path):
    path = tmp_path / "grid.csv"
    path.write_text(
        "timestamp,intensity_gco2eq_per_kwh,kind,region\n"
        "2020-10-25T01:00:00+02:00,300,marginal,DE\n"
        "2020-10-25T02:00:00+02:00,200,marginal,DE\n"
        "2020-10-25T02:00:00+01:00,100,marginal,DE\n"
        "2020-10-25T03:00:00+01:00,50,marginal,DE\n"
    )
    series = load_csv_series(path)
    assert series.kind == "marginal" and series.region == "DE" and series.step_s == 3600
    assert series.values_gco2eq_per_kwh.tolist() == [300, 200, 100, 50]


def test_csv_loader_errors(tmp_path):
    path = tmp_path / "grid.csv"
    path.write_text("timestamp,intensity_gco2eq_per_kwh\n2020-01-01T00:00:00Z,300\n2020-01-01T01:00:00Z,200\n")
    with pytest.raises(GreentuneError, match="average or marginal"):
        load_csv_series(path)
    assert load_csv_series(path, kind="average").values_gco2eq_per_kwh.tolist() == [300, 200]
    path.write_text("timestamp,intensity_gco2eq_per_kwh\n2020-01-01T00:00:00,300\n2020-01-01T01:00:00,200\n")
    with pytest.raises(GreentuneError, match="no time zone"):
        load_csv_series(path, kind="average")
    with pytest.raises(GreentuneError, match="no CSV file"):
        load_csv_series(tmp_path / "missing.csv", kind="average")


def test_timeline_is_split_at_slot_boundaries_and_multiplied_by_pue():
    series = hourly(datetime(2020, 1, 1, tzinfo=UTC), [100.0, 300.0])
    # 2 kWh evenly over 00:30–01:30: half at 100, half at 300 → 400 g, × PUE 1.5 = 600 g
    result = timeline_emissions(
        [(datetime(2020, 1, 1, 0, 30, tzinfo=UTC), datetime(2020, 1, 1, 1, 30, tzinfo=UTC), 2.0)], series, pue=1.5
    )
    assert result.energy_kwh == 2.0
    assert result.emissions_gco2eq == pytest.approx(600.0)
    assert result.mean_intensity_gco2eq_per_kwh == pytest.approx(200.0)
    assert (result.source, result.kind) == ("test", "average")


def test_timeline_from_power_samples_across_fall_back():
    series = hourly(datetime(2020, 10, 25, 0, tzinfo=UTC), [100.0, 200.0], tz=BERLIN)
    # 02:00 CEST to 02:00 CET is one real hour apart: one hour at 1 kW per slot
    times = [
        datetime(2020, 10, 25, 2, tzinfo=BERLIN),
        datetime(2020, 10, 25, 2, fold=1, tzinfo=BERLIN),
        datetime(2020, 10, 25, 3, tzinfo=BERLIN),
    ]
    result = timeline_emissions(intervals_from_power(times, [1000.0, 1000.0, 1000.0]), series)
    assert result.energy_kwh == pytest.approx(2.0)
    assert result.emissions_gco2eq == pytest.approx(300.0)


def test_timeline_errors():
    series = hourly(datetime(2020, 1, 1, tzinfo=UTC), [100.0, 300.0])
    with pytest.raises(GreentuneError, match="PUE"):
        timeline_emissions([], series, pue=0.9)
    with pytest.raises(GreentuneError, match="covers"):
        timeline_emissions([(datetime(2020, 1, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, 3, tzinfo=UTC), 1.0)], series)
    assert np.isfinite(timeline_emissions([], series).emissions_gco2eq)
