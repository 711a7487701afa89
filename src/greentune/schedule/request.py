"""`PlanRequest` → `plan(request)`: the one planning function behind `greentune schedule` and `run --carbon-aware`.

A request says what to plan (mode, source, regions, start, duration,
flexibility, power, PUE, pause rules) and on which clock the plan will be
followed: none (`greentune schedule`: any time the source covers), the wall
clock (the deadline must lie ahead; a start already past moves to now) or a
simulated clock (history only). `plan` checks the request, builds the `Job`,
loads each region's series and returns a `PlanResult`; the CLI modules only
build the request and print the result.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from greentune.carbon import FILLS, KINDS, Fill, IntensitySeries, Kind
from greentune.errors import GreentuneError
from greentune.schedule.choices import ClockKind, Mode
from greentune.schedule.job import DEFAULT_POWER_W, Job, add_seconds, flexibility_s
from greentune.schedule.placement import RegionChoice, compare_regions, plan_job
from greentune.schedule.plans import Plan
from greentune.schedule.pr import PauseRules
from greentune.schedule.sources import Source


@dataclass(frozen=True)
class PlanRequest:
    """What to plan. `regions`: the first is planned, the others compared (empty: a CSV file's own region).

    `start`: ISO 8601 text (no offset: `tz`, else the source's time zone); None means now (live
    sources and the wall clock). `duration_s`: None takes the length of the power `timeline`
    (a CSV file elapsed_s,power_w); `power_w` None and no timeline: `DEFAULT_POWER_W`, stated.
    `window` (a duration or a % of the job) or `max_duration` give the flexibility. `clock`: None for a
    plan only, else the clock that will follow it. `now`: the present (tests pin it).
    """

    mode: Mode
    source: Source
    regions: tuple[str, ...] = ()
    start: str | None = None
    duration_s: float | None = None
    window: str = "24h"
    max_duration: str | None = None
    power_w: float | None = None
    timeline: Path | None = None
    pue: float = 1.0
    fill: str | None = None
    kind: str | None = None
    tz: str | None = None
    rules: PauseRules = field(default_factory=PauseRules)
    clock: ClockKind | None = None
    start_flag: str = "--start"
    now: datetime | None = None


@dataclass(frozen=True)
class PlanResult:
    """The outcome of `plan`: the best series-backed `plan` and its `series` (None when no region had one),
    the `ranking` of every region (lowest emissions first), the `job` planned and `notes` on what was assumed."""

    mode: Mode
    job: Job
    plan: Plan | None
    series: IntensitySeries | None
    ranking: tuple[RegionChoice, ...]
    power_note: str
    notes: tuple[str, ...]
    rules: PauseRules
    pue: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the plan's fields, the regions ranked (when several were compared), the job and notes."""
        result: dict[str, Any] = self.plan.to_dict() if self.plan is not None else {"mode": self.mode.value}
        plan_notes = result.get("notes", [])
        if len(self.ranking) > 1:
            result.update(regions=[choice.to_dict() for choice in self.ranking], best_region=self.ranking[0].region)
        result["job"] = {
            "duration_s": self.job.duration_s,
            "window_s": self.job.window_s,
            "power": self.power_note,
            "pue": self.pue,
            "rules": vars(self.rules) if self.mode is Mode.PR else None,
        }
        result["notes"] = [*self.notes, *plan_notes]
        return result


def plan(request: PlanRequest) -> PlanResult:
    """Plan `request` on each region's series; see the module docstring."""
    now = request.now or datetime.now(UTC)
    fill, kind = _fill_and_kind(request)
    regions = _regions(request)
    power = _job_power(request.power_w, request.timeline)
    duration_s = request.duration_s if request.duration_s is not None else power.duration_s
    if duration_s is None:
        raise GreentuneError("give --duration (e.g. 6h)")
    start, tz_note = _start(request, regions[0], now)
    window_s = flexibility_s(request.window, request.max_duration, duration_s)
    deadline = add_seconds(start, window_s + duration_s)
    if request.clock is ClockKind.REAL:
        if deadline <= now:
            raise GreentuneError(
                f"the deadline {deadline.isoformat(timespec='minutes')} has passed; give a future --at, "
                "or --clock simulated to replay history"
            )
        if start < now:  # a start already past: plan from now, keeping the deadline
            window_s, start = max(0.0, window_s - (now - start).total_seconds()), now
    if request.clock is ClockKind.SIMULATED and request.source.is_live:
        raise GreentuneError(
            f"--clock simulated replays history, but {request.source} is a live forecast; use entsoe or csv:PATH"
        )
    job = Job(
        start=start,
        duration_s=duration_s,
        window_s=window_s,
        power_w=power.power_w,
        timeline_elapsed_s=power.timeline_elapsed_s,
        timeline_power_w=power.timeline_power_w,
    )
    series_end = series_end_for(job)
    notes = tuple(note for note in (tz_note, power.note) if note)

    def series_for(region: str) -> IntensitySeries | None:
        if not request.source.covers(region, start, series_end):
            return None
        return request.source.load(region, start, series_end, fill=fill, kind=kind)

    if len(regions) == 1:
        series = request.source.load(regions[0], start, series_end, fill=fill, kind=kind)
        best = plan_job(series, job, request.mode, rules=request.rules, pue=request.pue)
        choice = RegionChoice(regions[0], best.emissions_gco2eq, best.source, best)
        return PlanResult(request.mode, job, best, series, (choice,), power.note, notes, request.rules, request.pue)
    ranking = compare_regions(job, regions, series_for, request.mode, rules=request.rules, pue=request.pue)
    best_choice = next((choice for choice in ranking if choice.plan is not None), None)
    best_plan = best_choice.plan if best_choice is not None else None
    best_series = series_for(best_choice.region) if best_choice is not None else None
    return PlanResult(
        request.mode, job, best_plan, best_series, tuple(ranking), power.note, notes, request.rules, request.pue
    )


def _fill_and_kind(request: PlanRequest) -> tuple[Fill | None, Kind | None]:
    """The request's gap fill and series kind, checked."""
    if request.fill is not None and request.fill not in FILLS:
        raise GreentuneError(f"unknown fill {request.fill!r}; use {' or '.join(FILLS)}")
    if request.kind is not None and request.kind not in KINDS:
        raise GreentuneError(f"unknown kind {request.kind!r}; use {' or '.join(KINDS)}")
    return request.fill, request.kind  # checked just above


def series_end_for(job: Job) -> datetime:
    """The end of the series a job needs: its deadline, plus a slot of room to round a start off the hour up."""
    pad_s = 0 if job.start.timestamp() % 3600 == 0 else 3600
    return add_seconds(job.start, job.window_s + job.duration_s + pad_s)


def _regions(request: PlanRequest) -> tuple[str, ...]:
    """The regions upper-cased, without repeats; a CSV source without one names its own."""
    names: list[str] = []
    for name in (region.strip().upper() for region in request.regions):
        if name and name not in names:
            names.append(name)
    if not names:
        default = request.source.default_region()
        if default is None:
            raise GreentuneError("give --region (e.g. DE) or --regions DE,FR,PL,SE")
        names.append(default)
    return tuple(names)


def _start(request: PlanRequest, region: str, now: datetime) -> tuple[datetime, str | None]:
    """The requested start, tz-aware, and a note when its time zone was assumed."""
    from greentune.schedule.sources import read_start

    flag = request.start_flag
    if request.start is None:
        if request.clock is ClockKind.SIMULATED:
            raise GreentuneError(f"--clock simulated replays history: give {flag} (e.g. 2020-06-01T00:00)")
        if request.clock is None and not request.source.is_live:
            raise GreentuneError(
                f"give {flag}: the {request.source} source holds history, so there is no 'now' to plan from"
            )
        return now, None
    try:
        zone = ZoneInfo(request.tz) if request.tz else request.source.time_zone(region)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path-like key such as ../x
        raise GreentuneError(f"unknown time zone {request.tz!r}; use an IANA name such as Europe/Berlin") from None
    return read_start(request.start, flag, zone)


@dataclass(frozen=True)
class _JobPower:
    """A job's power: constant `power_w`, or a measured timeline (with its own `duration_s`); `note` says which."""

    note: str
    power_w: float | None = None
    timeline_elapsed_s: tuple[float, ...] = ()
    timeline_power_w: tuple[float, ...] = ()

    @property
    def duration_s(self) -> float | None:
        """The timeline's length (None for a constant power)."""
        return max(self.timeline_elapsed_s) if self.timeline_elapsed_s else None


def _job_power(power_w: float | None, timeline: Path | None) -> _JobPower:
    """The job's power from `--power-w` or a `--timeline` CSV (elapsed_s,power_w); the default, stated, otherwise."""
    if timeline is None:
        if power_w is None:
            return _JobPower(
                f"constant power {DEFAULT_POWER_W:g} W (default; pass --power-w or --timeline)", DEFAULT_POWER_W
            )
        return _JobPower(f"constant power {power_w:g} W", power_w)
    if power_w is not None:
        raise GreentuneError("give either --power-w or --timeline, not both")
    try:
        with timeline.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, restval=""))  # a short row reads as empty cells, not None
        elapsed = tuple(float(row["elapsed_s"]) for row in rows)
        power = tuple(float(row["power_w"]) for row in rows)
    except (OSError, KeyError, ValueError) as error:
        raise GreentuneError(
            f"cannot read power timeline {timeline}: {error}; it needs columns elapsed_s,power_w"
        ) from None
    if not rows:
        raise GreentuneError(
            f"power timeline {timeline} has no rows; it needs columns elapsed_s,power_w and ≥ 2 samples"
        )
    return _JobPower(f"measured power timeline {timeline.name}", None, elapsed, power)
