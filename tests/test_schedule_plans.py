"""Plans on small hand-made series: windows, partial slots, DST, pause rules, regions, durations."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from greentune.carbon import IntensitySeries
from greentune.errors import GreentuneError
from greentune.schedule import Job, PauseRules, compare_regions, flexible_start, parse_duration_s, pause_resume

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2020, 6, 1, tzinfo=UTC)


def series(values, start=T0, step_s=3600, region="XX", tz=UTC):
    return IntensitySeries(start, step_s, np.array(values, dtype=float), "average", "hand-made", region, tz)


def job(hours, window_hours, start=T0, power_w=1000.0):
    return Job(start=start, duration_s=hours * 3600, window_s=window_hours * 3600, power_w=power_w)


def test_flexible_start_moves_to_the_clean_hours_and_reports_against_now():
    plan = flexible_start(series([500, 400, 100, 100, 300, 500]), job(2, 3), pue=1.2)
    assert plan.start == T0 + timedelta(hours=2) and plan.end == T0 + timedelta(hours=4)
    assert plan.emissions_now_gco2eq == pytest.approx(1.2 * (500 + 400))
    assert plan.emissions_gco2eq == pytest.approx(1.2 * 200)
    assert plan.savings_pct == pytest.approx(100 * 700 / 900)
    assert (plan.pauses, plan.kind, plan.source) == (0, "average", "hand-made")


def test_pause_resume_uses_the_cleanest_slots_in_order_and_counts_pauses():
    plan = pause_resume(series([100, 900, 100, 900, 100]), job(3, 2))
    assert [(s.start.hour, s.end.hour) for s in plan.segments] == [(0, 1), (2, 3), (4, 5)]
    assert plan.pauses == 2 and plan.pauses_per_hour == pytest.approx(2 / 3)
    assert plan.deadline == T0 + timedelta(hours=5)
    assert plan.savings_pct > flexible_start(series([100, 900, 100, 900, 100]), job(3, 2)).savings_pct


def test_pause_rules_trade_savings_for_fewer_and_longer_segments():
    values = [100, 900, 90, 900, 80, 85, 900, 900]
    free = pause_resume(series(values), job(3, 5))
    capped = pause_resume(series(values), job(3, 5), rules=PauseRules(max_pauses=0))
    long_runs = pause_resume(series(values), job(3, 5), rules=PauseRules(min_segment_s=2 * 3600))
    costly = pause_resume(series(values), job(3, 5), rules=PauseRules(checkpoint_kwh=20.0))
    assert free.pauses == 1 and capped.pauses == 0 and costly.pauses == 0
    assert all(s.duration_s >= 2 * 3600 for s in long_runs.segments)
    assert capped.emissions_gco2eq == flexible_start(series(values), job(3, 5)).emissions_gco2eq
    assert free.emissions_gco2eq <= long_runs.emissions_gco2eq


def test_checkpoint_energy_is_counted_in_energy_and_emissions():
    plan = pause_resume(series([100, 900, 100, 900]), job(2, 2), rules=PauseRules(checkpoint_kwh=0.1, checkpoint_s=60))
    assert plan.pauses == 1
    assert plan.energy_kwh == pytest.approx(2.1)
    assert plan.emissions_gco2eq == pytest.approx(100 + 100 + 0.1 * 100)
    assert any("60 s" in note for note in plan.notes)


def test_partial_last_slot_and_unaligned_start():
    start = T0 + timedelta(minutes=20)
    plan = flexible_start(series([300, 100, 100, 300, 300]), job(1.5, 2, start=start))
    assert plan.start == T0 + timedelta(hours=1) and plan.end == T0 + timedelta(hours=2, minutes=30)
    assert plan.energy_kwh == pytest.approx(1.5)
    assert plan.emissions_gco2eq == pytest.approx(100 + 0.5 * 100)
    assert any("rounded up" in note for note in plan.notes)


def test_plan_times_across_the_fall_back_night_are_real_hours():
    night = series([500, 500, 100, 100, 100, 500], start=datetime(2020, 10, 24, 22, tzinfo=UTC), tz=BERLIN)
    start = datetime(2020, 10, 25, 0, tzinfo=BERLIN)
    plan = flexible_start(night, job(3, 3, start=start))
    segment = plan.segments[0]
    assert segment.start.isoformat() == "2020-10-25T02:00:00+02:00"
    assert segment.end.isoformat() == "2020-10-25T04:00:00+01:00"
    assert segment.duration_s == 3 * 3600


def test_measured_power_timeline_sets_the_energy_per_slot():
    ramp = Job(
        start=T0,
        duration_s=7200,
        window_s=3600,
        timeline_elapsed_s=(0.0, 3600.0, 7200.0),
        timeline_power_w=(0.0, 1000.0, 3000.0),
    )
    assert ramp.energy_per_slot_kwh(3600).tolist() == pytest.approx([0.5, 2.0])
    # the heavy second hour should land on the clean slot: start at 00:00 puts it on 100
    plan = flexible_start(series([900, 100, 900]), ramp)
    assert plan.start == T0
    assert plan.emissions_gco2eq == pytest.approx(0.5 * 900 + 2.0 * 100)


def test_series_not_covering_the_window_is_an_error():
    with pytest.raises(GreentuneError, match="covers"):
        flexible_start(series([100, 200, 300]), job(2, 24))


def test_bad_jobs_are_refused():
    with pytest.raises(GreentuneError, match="no time zone"):
        Job(start=datetime(2020, 1, 1), duration_s=60, window_s=0, power_w=1)
    with pytest.raises(GreentuneError, match="duration must be positive"):
        job(0, 1)
    with pytest.raises(GreentuneError, match="window"):
        job(1, -1)
    with pytest.raises(GreentuneError, match="PUE"):
        flexible_start(series([1, 2]), job(1, 1), pue=0.5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6h", 21600), ("90m", 5400), ("1d12h", 129600), ("1.5h", 5400), ("45s", 45), ("8D", 691200), ("30min", 1800)],
)
def test_parse_duration(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["6 hours", "", "h", "-1h", "6h!", "6"])
def test_parse_duration_refuses_malformed_text(text):
    with pytest.raises(GreentuneError, match="cannot read duration"):
        parse_duration_s(text)


def test_regions_are_ranked_with_series_where_they_exist_and_annual_averages_elsewhere():
    series_by_region = {"AA": series([400, 100, 400], region="AA"), "BB": series([200, 200, 200], region="BB")}
    ranking = compare_regions(job(1, 2), ["AA", "BB", "SE"], series_by_region.get, "fs")
    by_region = {choice.region: choice for choice in ranking}
    assert by_region["AA"].plan is not None and by_region["AA"].emissions_gco2eq == pytest.approx(100)
    assert by_region["SE"].plan is None and "annual" in by_region["SE"].note
    assert [c.emissions_gco2eq for c in ranking] == sorted(c.emissions_gco2eq for c in ranking)
