"""The run's operational emissions: time-resolved when an intensity series covers it, else the annual average.

A series covers a run when the run followed a carbon-aware plan (the plan's
series: ENTSO-E history for a simulated clock, a CSV file, a live forecast) or
when a live source's key is set and the site names a zone (its history of the
run's hours). Then the run's energy timeline — the meter log's cumulative
energy at every sample and window boundary — is placed on the run's clock and
integrated against the series (`greentune.carbon.time_resolved`), for the whole
run and for each window (phase). Without a series, or when fetching one fails,
the annual average stays the method and a note says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greentune.carbon import (
    ClockMap,
    EnergyPoint,
    IntensitySeries,
    TimelineEmissions,
    energy_between,
    energy_intervals,
    time_resolved,
)
from greentune.errors import GreentuneError
from greentune.ledger.record import Phase
from greentune.meter import Measurement, read_log

if TYPE_CHECKING:
    from greentune.carbon import Site
    from greentune.finetune.carbon_aware import PlanFollower

_JOULES_PER_KWH = 3.6e6


def energy_points(records: Sequence[dict[str, Any]], window: str = Phase.RUN) -> list[EnergyPoint]:
    """Cumulative energy (kWh since `window` began) at every sample and window boundary of a meter log, in time order."""
    begun: dict[str, float] = {}
    raw: list[tuple[float, float]] = []
    span: list[float] = []
    for record in records:
        kind = record.get("type")
        if kind in ("sample", "window_begin"):
            total_j = sum(record["energy_j"].values())
            raw.append((record["t_unix_s"], total_j))
            if kind == "window_begin":
                begun[record["name"]] = total_j
                if record["name"] == window:
                    span = [record["t_unix_s"], total_j]
        elif kind == "window" and record["name"] in begun:
            end_s = record["start_unix_s"] + record["duration_s"]
            raw.append((end_s, begun[record["name"]] + record["energy_j"]))
            if record["name"] == window and span:
                span = [span[0], span[1], end_s]
    if len(span) < 2:
        raise GreentuneError(f"the meter log has no '{window}' window to account")
    first_s, base_j = span[0], span[1]
    last_s = span[2] if len(span) == 3 else max(t for t, _ in raw)
    points, highest_j = [], base_j
    for t_unix_s, total_j in sorted(raw):
        if first_s <= t_unix_s <= last_s:
            highest_j = max(highest_j, total_j)  # counters only grow; a window end logged a µs early cannot go back
            points.append(EnergyPoint(t_unix_s, (highest_j - base_j) / _JOULES_PER_KWH))
    return points


@dataclass(frozen=True)
class RunEmissions:
    """What the record builder needs: `resolved` (the run's timeline on a series; None: annual average),
    `window_gco2eq` (a window's emissions on it; None without a series), `run_now` (the counterfactual
    of a carbon-aware run: the same timeline from the requested start with no waits) and `notes`."""

    resolved: TimelineEmissions | None
    window_gco2eq: Callable[[Measurement], float] | None
    run_now: TimelineEmissions | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _OnSeries:
    """A run's energy points on one series and clock, × PUE."""

    points: list[EnergyPoint]
    series: IntensitySeries
    clock: ClockMap
    pue: float

    def whole(self, clock: ClockMap | None = None) -> tuple[TimelineEmissions, tuple[str, ...]]:
        result = time_resolved(energy_intervals(self.points, clock or self.clock), self.series, pue=self.pue)
        return result.emissions, result.notes

    def window_gco2eq(self, measurement: Measurement) -> float:
        end_s = measurement.start_unix_s + measurement.duration_s
        inside = energy_between(self.points, measurement.start_unix_s, end_s)
        intervals = energy_intervals(inside, self.clock)
        return time_resolved(intervals, self.series, pue=self.pue).emissions.emissions_gco2eq


def run_emissions(log_path: Path, site: Site, follower: PlanFollower | None, started: datetime) -> RunEmissions:
    """The run's emissions on the carbon-aware plan's series, a live source's history, or None (annual average)."""
    notes: tuple[str, ...] = ()
    if follower is not None:
        series, clock = follower.series, follower.clock.clock_map()
    else:
        found = _live_history(site, started)
        if isinstance(found, str):
            return RunEmissions(None, None, None, (found,) if found else ())
        series, clock = found, ClockMap()
    try:  # the record is written whatever happens here: a failure falls back to the annual average, said
        on_series = _OnSeries(energy_points(read_log(log_path)), series, clock, site.pue)
        resolved, clip_notes = on_series.whole()
        run_now = on_series.whole(follower.clock.run_now_map())[0] if follower is not None else None
    except (GreentuneError, ValueError) as error:
        return RunEmissions(None, None, None, (f"no time-resolved accounting: {error}; annual average used",))
    if series.kind == "marginal":
        notes = (
            f"emissions on a marginal series ({series.source}): what the grid's marginal generator emitted, "
            "not comparable with average-intensity figures",
        )
    return RunEmissions(resolved, on_series.window_gco2eq, run_now, (*notes, *clip_notes))


def _live_history(site: Site, started: datetime) -> IntensitySeries | str:
    """The live history of the site's zone over the run, or the note saying why there is none ('' when no key is set)."""
    from greentune.schedule import Source, SourceKind

    live = [source for source in (Source(SourceKind.ELECTRICITYMAPS), Source(SourceKind.WATTTIME)) if source.has_key]
    if not live:
        return ""
    if site.is_default:
        return f"{live[0]} key set, but the spec names no site.location: annual average used"
    try:
        return live[0].past_series(site.location, started, datetime.now(UTC))
    except (GreentuneError, OSError, KeyError, ValueError) as error:
        return f"no {live[0]} history for {site.location} ({error}); annual average used"
