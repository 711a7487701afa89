"""`schedule.plan(PlanRequest)`: the one planning function of `greentune schedule` and `run --carbon-aware`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.schedule import ClockKind, Mode, PlanRequest, Source, SourceKind, plan

NOW = datetime.fromisoformat("2024-01-01T05:30:00+00:00")


def _grid(tmp_path: Path, region_column: bool = False) -> Source:
    path = tmp_path / "nordpool-se3.csv"
    rows = [f"2024-01-01T{h:02d}:00:00Z,{900 if h < 4 else 100}" + (",SE3" if region_column else "") for h in range(12)]
    header = "timestamp,intensity_gco2eq_per_kwh" + (",region" if region_column else "")
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return Source.parse(f"csv:{path}")


def test_a_source_is_parsed_once() -> None:
    assert Source.parse("csv:grid.csv") == Source(SourceKind.CSV, Path("grid.csv"))
    assert str(Source.parse("csv:grid.csv")) == "csv:grid.csv" and Source.parse("watttime").is_live
    for text in ("csv:", "csv", "nowhere"):
        with pytest.raises(GreentuneError, match=f"unknown source '{text}'"):
            Source.parse(text)


def test_a_csv_source_needs_no_region_its_name_or_column_is_the_region(tmp_path: Path) -> None:
    request = PlanRequest(
        Mode.FS, _grid(tmp_path), start="2024-01-01T00:00", duration_s=7200, window="6h", kind="average"
    )
    result = plan(request)
    assert result.plan is not None and result.plan.region == "NORDPOOL-SE3"
    assert result.plan.start.isoformat() == "2024-01-01T04:00:00+00:00"
    assert result.plan.emissions_gco2eq == pytest.approx(2 * 1000 * 100 / 1000)  # 2 h × 1000 W (default) at 100
    assert (
        plan(
            PlanRequest(
                Mode.FS, _grid(tmp_path, True), start="2024-01-01T00:00", duration_s=3600, window="6h", kind="average"
            )
        ).plan.region
        == "SE3"
    )  # type: ignore[union-attr]


def test_on_the_wall_clock_a_past_start_moves_to_now_and_a_past_deadline_is_refused(tmp_path: Path) -> None:
    base = PlanRequest(
        Mode.PR,
        _grid(tmp_path),
        start="2024-01-01T00:00",
        duration_s=3600,
        window="8h",
        kind="average",
        clock=ClockKind.REAL,
        now=NOW,
    )
    result = plan(base)
    assert result.job.start == NOW and result.job.window_s == 2.5 * 3600  # the deadline stays 09:00
    late = PlanRequest(
        Mode.PR,
        base.source,
        start="2024-01-01T00:00",
        duration_s=3600,
        window="1h",
        kind="average",
        clock=ClockKind.REAL,
        now=NOW,
    )
    with pytest.raises(GreentuneError, match="the deadline 2024-01-01T02:00\\+00:00 has passed"):
        plan(late)


def test_a_simulated_clock_needs_a_start_and_history(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match="give --at"):
        plan(PlanRequest(Mode.FS, _grid(tmp_path), duration_s=3600, clock=ClockKind.SIMULATED, start_flag="--at"))
    with pytest.raises(GreentuneError, match="watttime is a live forecast"):
        plan(
            PlanRequest(
                Mode.FS,
                Source.parse("watttime"),
                regions=("CAISO",),
                start="2024-01-01T00:00",
                duration_s=3600,
                clock=ClockKind.SIMULATED,
            )
        )


def test_bad_fill_kind_and_missing_duration_are_one_line(tmp_path: Path) -> None:
    source = _grid(tmp_path)
    for request, message in [
        (PlanRequest(Mode.FS, source, start="2024-01-01T00:00", duration_s=3600, fill="zero"), "unknown fill 'zero'"),
        (
            PlanRequest(Mode.FS, source, start="2024-01-01T00:00", duration_s=3600, kind="hourly"),
            "unknown kind 'hourly'",
        ),
        (PlanRequest(Mode.FS, source, start="2024-01-01T00:00"), "give --duration"),
    ]:
        with pytest.raises(GreentuneError, match=message):
            plan(request)
