"""Time-resolved accounting as pure functions: a run's energy timeline on its clock × an intensity series × PUE.

Every expected figure is worked out by hand from a three-hour series
(100, 500 and 50 gCO2eq/kWh from 2021-01-04 00:00 UTC) and a few energy points.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from greentune.carbon import (
    ClockMap,
    EmissionsMethod,
    EnergyPoint,
    IntensitySeries,
    account,
    energy_between,
    energy_intervals,
    resolve_site,
    time_resolved,
)
from greentune.errors import GreentuneError
from greentune.finetune.clock import SimulatedClock
from greentune.finetune.emissions import energy_points
from test_live_clients import EM_KEY, server  # noqa: F401  (the recorded Electricity Maps service on 127.0.0.1)

T0 = datetime.fromisoformat("2021-01-04T00:00:00+00:00")
HOUR_S = 3600.0


def _series(kind: str = "average") -> IntensitySeries:
    return IntensitySeries(T0, 3600, [100.0, 500.0, 50.0], kind, "hand-made series", "DE")  # type: ignore[arg-type]


def _clock(*anchors: tuple[float, float]) -> ClockMap:
    """Anchors (wall s, hours after T0) of a simulated clock (it stands still between them)."""
    return ClockMap(
        tuple(wall for wall, _ in anchors), tuple(T0.timestamp() + hours * HOUR_S for _, hours in anchors), rate=0.0
    )


def test_the_wall_clock_charges_each_interval_at_its_own_hours() -> None:
    start = T0.timestamp() + 0.5 * HOUR_S
    points = [EnergyPoint(start, 0.0), EnergyPoint(start + HOUR_S, 2.0)]  # 00:30–01:30: half at 100, half at 500
    result = time_resolved(energy_intervals(points), _series(), pue=1.5)
    assert result.emissions.emissions_gco2eq == pytest.approx(1.5 * (1.0 * 100 + 1.0 * 500))
    assert result.emissions.mean_intensity_gco2eq_per_kwh == pytest.approx(300.0)
    assert result.outside_kwh == 0 and result.notes == ()


def test_a_simulated_clock_charges_steps_on_the_clock_and_standing_still_where_it_ran() -> None:
    # wall 0–10 s: steps from 00:00 to 01:00 (1 kWh); 10–25 s: a checkpoint while the clock stands at 01:00
    # (0.6 kWh, charged to the hour it just ran in: 100); at 25 s a wait jumps to 02:00; 25–30 s: steps to 03:00.
    clock = _clock((0, 0), (10, 1), (25, 1), (25, 2), (30, 3))
    points = [EnergyPoint(0, 0.0), EnergyPoint(10, 1.0), EnergyPoint(25, 1.6), EnergyPoint(30, 1.75)]
    result = time_resolved(energy_intervals(points, clock), _series(), pue=1.2)
    assert result.emissions.energy_kwh == pytest.approx(1.75)
    assert result.emissions.emissions_gco2eq == pytest.approx(1.2 * (1.0 * 100 + 0.6 * 100 + 0.15 * 50))


def test_energy_before_the_first_step_after_a_wait_is_charged_where_the_clock_is_about_to_run() -> None:
    # created at 00:00, jumped to 01:00 at wall 5 s (a planned start), then loading for 3 s before any step
    clock = _clock((0, 0), (5, 0), (5, 1))
    result = time_resolved(energy_intervals([EnergyPoint(6, 0.0), EnergyPoint(9, 2.0)], clock), _series())
    assert result.emissions.emissions_gco2eq == pytest.approx(2.0 * 500)


def test_an_interval_across_a_wait_is_split_at_the_jump() -> None:
    # standing at 00:00 until wall 5 s, where a wait jumps to 02:00; 1 kWh drawn evenly over wall 0–10 s
    clock = _clock((0, 0), (5, 0), (5, 2))
    result = time_resolved(energy_intervals([EnergyPoint(0, 0.0), EnergyPoint(10, 1.0)], clock), _series())
    assert result.emissions.emissions_gco2eq == pytest.approx(0.5 * 100 + 0.5 * 50)


def test_energy_outside_the_series_is_charged_at_its_nearest_slot_and_noted() -> None:
    late = T0.timestamp() + 3 * HOUR_S  # the series ends at 03:00
    result = time_resolved(energy_intervals([EnergyPoint(late, 0.0), EnergyPoint(late + 60, 0.5)]), _series())
    assert result.emissions.emissions_gco2eq == pytest.approx(0.5 * 50)
    assert result.outside_kwh == pytest.approx(0.5) and "outside the DE series" in result.notes[0]


def test_a_window_is_cut_from_the_timeline_with_its_energy_interpolated_at_both_ends() -> None:
    points = [EnergyPoint(0, 0.0), EnergyPoint(10, 1.0), EnergyPoint(20, 3.0)]
    assert energy_between(points, 5, 15) == [EnergyPoint(5, 0.5), EnergyPoint(10, 1.0), EnergyPoint(15, 2.0)]


def test_a_timeline_out_of_order_or_with_falling_energy_is_refused() -> None:
    with pytest.raises(GreentuneError, match="time order with non-decreasing energy"):
        energy_intervals([EnergyPoint(0, 1.0), EnergyPoint(10, 0.5)])
    with pytest.raises(GreentuneError, match="in time order"):
        ClockMap((10.0, 0.0), (0.0, 0.0))


def test_the_meter_log_gives_points_at_samples_and_window_ends_from_the_run_window_on() -> None:
    records = [
        {"type": "sample", "t_unix_s": 99.0, "energy_j": {"cpu": 0.0}},  # before the run window: left out
        {"type": "window_begin", "name": "run", "t_unix_s": 100.0, "energy_j": {"cpu": 3.6e5, "ram": 3.6e5}},
        {"type": "window_begin", "name": "load", "t_unix_s": 101.0, "energy_j": {"cpu": 7.2e5, "ram": 3.6e5}},
        {"type": "sample", "t_unix_s": 102.0, "energy_j": {"cpu": 1.08e6, "ram": 7.2e5}},
        {"type": "window", "name": "load", "start_unix_s": 101.0, "duration_s": 2.0, "energy_j": 1.8e6},
        {"type": "window", "name": "run", "start_unix_s": 100.0, "duration_s": 4.0, "energy_j": 3.6e6},
    ]
    assert energy_points(records) == [
        EnergyPoint(100.0, 0.0),
        EnergyPoint(101.0, 0.1),
        EnergyPoint(102.0, 0.3),
        EnergyPoint(103.0, 0.6),  # the load window began at 1.08 MJ and used 1.8 MJ: 2.88 MJ − 0.72 MJ
        EnergyPoint(104.0, 1.0),
    ]
    with pytest.raises(GreentuneError, match="no 'run' window"):
        energy_points(records[:1])


def test_the_simulated_clock_maps_its_run_and_the_run_now_case(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = iter([0.0, 5.0, 6.0, 9.0, 20.0, 24.0])  # one reading per anchor; a wait reads the wall clock once
    monkeypatch.setattr("greentune.finetune.clock.time.time", lambda: next(wall))
    clock = SimulatedClock(T0, duration_s=2 * HOUR_S)  # anchor at wall 0: 00:00
    clock.wait_until(T0 + timedelta(hours=1), "segment 1")  # wall 5: jump to 01:00
    clock.calibrate(4)  # 30 min per step
    clock.observe_step(0)  # wall 6
    clock.observe_step(2)  # wall 9: 02:00
    clock.wait_until(T0 + timedelta(hours=3), "segment 2")  # wall 20: jump to 03:00
    clock.observe_step(4)  # wall 24: 04:00
    placed, run_now = clock.clock_map(), clock.run_now_map()
    assert [placed.clock_s(t) - T0.timestamp() for t in (3, 7.5, 15, 22)] == [0, 1.5 * HOUR_S, 2 * HOUR_S, 3.5 * HOUR_S]
    assert [run_now.clock_s(t) - T0.timestamp() for t in (3, 7.5, 15, 22)] == [0, 0.5 * HOUR_S, HOUR_S, 1.5 * HOUR_S]


def test_account_on_a_series_states_its_method_and_keeps_the_annual_average() -> None:
    site = resolve_site("DE", pue=1.2, intensity_gco2eq_per_kwh=400.0)
    start = T0.timestamp() + 0.5 * HOUR_S
    resolved = time_resolved(energy_intervals([EnergyPoint(start, 0.0), EnergyPoint(start + HOUR_S, 2.0)]), _series())
    acct = account(2.0, HOUR_S, site, resolved=resolved.emissions)
    assert acct.method is EmissionsMethod.TIME_RESOLVED and acct.method_label == "time-resolved: hand-made series"
    assert acct.emissions_gco2eq == pytest.approx(2.0 * 1.2 * 300.0) and acct.intensity_gco2eq_per_kwh == 300.0
    assert acct.annual_average_emissions_gco2eq == pytest.approx(2.0 * 1.2 * 400.0)
    assert [item.name.split(",")[0] for item in acct.inputs if "intensity" in item.name] == ["grid intensity"] * 2
    assert acct.inputs[3].source == "hand-made series" and "comparison only" in acct.inputs[4].name


def test_without_a_series_the_annual_average_is_the_method_and_says_so() -> None:
    site = resolve_site("DE", pue=1.2, intensity_gco2eq_per_kwh=400.0)
    acct = account(2.0, HOUR_S, site)
    assert acct.method is EmissionsMethod.ANNUAL_AVERAGE and acct.method_label == "annual average: given by the user"
    assert acct.emissions_gco2eq == acct.annual_average_emissions_gco2eq == pytest.approx(960.0)
    empty = time_resolved([], _series()).emissions
    assert account(2.0, HOUR_S, site, resolved=empty).method is EmissionsMethod.ANNUAL_AVERAGE


def test_a_marginal_series_is_labelled_as_such() -> None:
    start = T0.timestamp()
    resolved = time_resolved(
        energy_intervals([EnergyPoint(start, 0.0), EnergyPoint(start + 60, 1.0)]), _series("marginal")
    )
    acct = account(1.0, 60.0, resolve_site("DE"), resolved=resolved.emissions)
    assert acct.intensity_kind == "marginal"
    assert acct.method_label == "time-resolved (marginal): hand-made series"


def test_a_run_with_a_live_key_is_accounted_on_the_zones_history(
    server: str,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain run (no plan) while ELECTRICITYMAPS_API_KEY is set: its meter log on the recorded past-range of DE."""
    from greentune.finetune.emissions import run_emissions

    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", EM_KEY)
    monkeypatch.setenv("GREENTUNE_ELECTRICITYMAPS_URL", f"{server}/v3")
    monkeypatch.setenv("GREENTUNE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("WATTTIME_USERNAME", "WATTTIME_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    start = datetime.fromisoformat("2026-01-13T01:10:00+00:00")  # the recorded hour 01:00 is 309 g/kWh
    log = tmp_path / "meter.jsonl"
    records = [
        {"type": "window_begin", "name": "run", "t_unix_s": start.timestamp(), "energy_j": {"cpu": 0.0}},
        {"type": "sample", "t_unix_s": start.timestamp() + 600, "energy_j": {"cpu": 1.8e6}},
        {"type": "window", "name": "run", "start_unix_s": start.timestamp(), "duration_s": 1200, "energy_j": 3.6e6},
    ]
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    site = resolve_site("DE", pue=1.1)
    emissions = run_emissions(log, site, None, start)
    assert emissions.resolved is not None and emissions.run_now is None
    assert emissions.resolved.emissions_gco2eq == pytest.approx(1.0 * 1.1 * 309.0)
    acct = account(1.0, 1200.0, site, resolved=emissions.resolved)
    assert acct.method_label.startswith("time-resolved: Electricity Maps API v3 carbon-intensity/past-range")
    without_site = run_emissions(log, resolve_site(None), None, start)
    assert without_site.resolved is None and "names no site.location" in without_site.notes[0]
