"""Operational emissions of a job's own energy timeline against an intensity series (time-resolved accounting).

E_op = PUE × Σ_i energy_i × I(t_i): each interval's energy is spread evenly
over its span and split at the series' slot boundaries, so a job that ran
through a clean night and a dirty morning is charged for each part at its own
intensity, not at a daily mean.

A metered run gives its timeline as `EnergyPoint`s (cumulative energy at each
meter sample and window boundary, wall-clock time). A `ClockMap` places them on
the clock the run followed: the wall clock itself, or a simulated clock that
replays history (anchors of wall time → clock time). `energy_between` cuts the
points to one window (a phase), and `time_resolved` integrates them against
the series, charging any energy outside the series' span at its nearest slot
(and saying so).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from greentune.carbon.series import IntensitySeries, Kind, require_aware
from greentune.errors import GreentuneError

Interval = tuple[datetime, datetime, float]  # (start, end, energy_kwh)
_STILL_S = 1e-3  # the span given to energy drawn while a clock stands still, to place it in a slot


@dataclass(frozen=True)
class TimelineEmissions:
    """Emissions of a metered timeline: `energy_kwh` (IT energy, before PUE),
    `emissions_gco2eq` (after PUE), `mean_intensity_gco2eq_per_kwh` (energy-weighted),
    `pue`, and the series' `source`, `kind` and `region`."""

    energy_kwh: float
    emissions_gco2eq: float
    mean_intensity_gco2eq_per_kwh: float
    pue: float
    source: str
    kind: Kind
    region: str


def intervals_from_power(times: Sequence[datetime], power_w: Sequence[float]) -> list[Interval]:
    """Power samples (W) at `times` → energy intervals, by the trapezoidal rule."""
    if len(times) != len(power_w) or len(times) < 2:
        raise GreentuneError("a power timeline needs at least two (time, power) samples of equal count")
    intervals = []
    for (t0, p0), (t1, p1) in zip(
        zip(times, power_w, strict=False), zip(times[1:], power_w[1:], strict=False), strict=False
    ):
        hours = (require_aware(t1, "sample").timestamp() - require_aware(t0, "sample").timestamp()) / 3600
        if hours <= 0 or p0 < 0 or p1 < 0:
            raise GreentuneError("power samples must be in time order with non-negative power")
        intervals.append((t0, t1, (p0 + p1) / 2 * hours / 1000))
    return intervals


def timeline_emissions(
    intervals: Iterable[Interval], series: IntensitySeries, *, pue: float = 1.0
) -> TimelineEmissions:
    """Integrate (start, end, energy_kwh) intervals against `series`, times `pue`."""
    if not pue >= 1.0:
        raise GreentuneError(f"PUE must be at least 1.0, got {pue}")
    energy_kwh = emissions_g = 0.0
    for start, end, interval_kwh in intervals:
        if interval_kwh < 0 or end < start:
            raise GreentuneError(
                f"interval {start.isoformat()}–{end.isoformat()} has negative energy or ends before it starts"
            )
        if end > start:
            values = series.values_between(start, end)
            first_edge_s = series.slot_start(series.slot_of(start)).timestamp() - start.timestamp()
            edges_s = first_edge_s + series.step_s * np.arange(len(values) + 1)
            span_s = end.timestamp() - start.timestamp()
            weights = (np.clip(edges_s[1:], 0, span_s) - np.clip(edges_s[:-1], 0, span_s)) / span_s
        else:
            values, weights = series.values_between(start, start + series.step)[:1], np.ones(1)
        energy_kwh += interval_kwh
        emissions_g += interval_kwh * float(weights @ values)
    mean = emissions_g / energy_kwh if energy_kwh > 0 else 0.0
    return TimelineEmissions(
        energy_kwh=energy_kwh,
        emissions_gco2eq=emissions_g * pue,
        mean_intensity_gco2eq_per_kwh=mean,
        pue=pue,
        source=series.source,
        kind=series.kind,
        region=series.region,
    )


@dataclass(frozen=True)
class EnergyPoint:
    """The meter's cumulative energy `energy_kwh` (since the run began) at wall-clock `t_unix_s`."""

    t_unix_s: float
    energy_kwh: float


@dataclass(frozen=True)
class ClockMap:
    """Wall-clock Unix seconds → the instant a run is accounted at.

    `unix_s` (non-decreasing) and `clock_unix_s` are anchors: the clock read
    `clock_unix_s[i]` at wall time `unix_s[i]`; between anchors time is
    linear; before the first and after the last it runs at `rate` clock
    seconds per wall second (0: it stands still, as a simulated clock does
    between optimizer steps). Two anchors at the same wall time are a jump (a
    simulated wait). No anchors and rate 1: the wall clock.
    """

    unix_s: tuple[float, ...] = ()
    clock_unix_s: tuple[float, ...] = ()
    rate: float = 1.0

    def __post_init__(self) -> None:
        if len(self.unix_s) != len(self.clock_unix_s) or bool(np.any(np.diff(self.unix_s) < 0)):
            raise GreentuneError("clock anchors need as many clock times as wall times, in time order")
        if not self.unix_s and self.rate != 1.0:
            raise GreentuneError("a clock without anchors is the wall clock (rate 1)")

    def clock_s(self, t_unix_s: float, *, before_jump: bool = False) -> float:
        """The clock's Unix seconds at wall time `t_unix_s` (at a jump: after it, or before it with `before_jump`)."""
        if not self.unix_s:
            return t_unix_s
        wall = self.unix_s
        search = bisect.bisect_left if before_jump else bisect.bisect_right
        last = search(wall, t_unix_s) - 1  # the latest anchor before t (or at t, after a jump)
        if last < 0:
            return self.clock_unix_s[0] - self.rate * (wall[0] - t_unix_s)
        if last == len(wall) - 1:
            return self.clock_unix_s[-1] + self.rate * (t_unix_s - wall[-1])
        span_s = wall[last + 1] - wall[last]
        fraction = (t_unix_s - wall[last]) / span_s if span_s > 0 else 0.0
        return self.clock_unix_s[last] + fraction * (self.clock_unix_s[last + 1] - self.clock_unix_s[last])

    def ran_before(self, t_unix_s: float) -> bool:
        """Whether the clock's last change before `t_unix_s` was running time (not a jump, not none at all).

        Energy drawn while the clock stands still is charged at the slot it just ran
        in (a checkpoint after a segment) if so, else at the slot it is about to run in
        (loading before a segment)."""
        last = bisect.bisect_right(self.unix_s, t_unix_s) - 1
        for index in range(last, 0, -1):
            if self.clock_unix_s[index] != self.clock_unix_s[index - 1]:
                return self.unix_s[index] != self.unix_s[index - 1]
        return self.rate > 0


def energy_between(points: Sequence[EnergyPoint], start_unix_s: float, end_unix_s: float) -> list[EnergyPoint]:
    """The points inside [start, end], with the cumulative energy interpolated at both ends."""
    times = np.array([point.t_unix_s for point in points])
    energies = np.array([point.energy_kwh for point in points])
    inside = [point for point in points if start_unix_s < point.t_unix_s < end_unix_s]
    ends = [EnergyPoint(t, float(np.interp(t, times, energies))) for t in (start_unix_s, end_unix_s)]
    return [ends[0], *inside, ends[1]]


def energy_intervals(points: Sequence[EnergyPoint], clock: ClockMap | None = None) -> list[Interval]:
    """Consecutive points → (start, end, energy_kwh) intervals on `clock` (default: the wall clock)."""
    clock = clock or ClockMap()
    intervals = []
    for before, after in itertools.pairwise(_split_at_anchors(points, clock)):
        energy_kwh = after.energy_kwh - before.energy_kwh
        if after.t_unix_s < before.t_unix_s or energy_kwh < -1e-12:
            raise GreentuneError("an energy timeline must be in time order with non-decreasing energy")
        if energy_kwh <= 0:
            continue
        start_s, end_s = clock.clock_s(before.t_unix_s), clock.clock_s(after.t_unix_s, before_jump=True)
        if end_s <= start_s:  # the clock stood still: the slot just run in, or the one about to be run in
            start_s, end_s = (
                (start_s - _STILL_S, start_s) if clock.ran_before(before.t_unix_s) else (start_s, start_s + _STILL_S)
            )
        intervals.append((_utc(start_s), _utc(end_s), energy_kwh))
    return intervals


def _split_at_anchors(points: Sequence[EnergyPoint], clock: ClockMap) -> Sequence[EnergyPoint]:
    """`points` with one more at every clock anchor between them (energy interpolated in wall time), so that no
    interval spans a jump: the energy before a wait stays before it."""
    if len(points) < 2:
        return points
    times = [point.t_unix_s for point in points]
    inside = sorted({anchor for anchor in clock.unix_s if times[0] < anchor < times[-1]} - set(times))
    if not inside:
        return points
    energies = np.interp(inside, times, [point.energy_kwh for point in points])
    extra = [EnergyPoint(t, float(energy)) for t, energy in zip(inside, energies, strict=True)]
    return sorted([*points, *extra], key=lambda point: point.t_unix_s)


def _utc(unix_s: float) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)


@dataclass(frozen=True)
class TimeResolved:
    """A timeline integrated against a series: `emissions` (see `TimelineEmissions`), the energy
    `outside_kwh` that fell outside the series' span (charged at its nearest slot), and `notes`."""

    emissions: TimelineEmissions
    outside_kwh: float
    notes: tuple[str, ...] = ()


def time_resolved(intervals: Iterable[Interval], series: IntensitySeries, *, pue: float = 1.0) -> TimeResolved:
    """Integrate `intervals` against `series` × `pue`; energy outside the series is charged at its nearest slot."""
    first, last = series.start_utc, series.end_utc
    clipped, outside_kwh = [], 0.0
    for start, end, energy_kwh in intervals:
        inside_start = min(max(start, first), last - timedelta(seconds=1))
        inside_end = min(max(end, inside_start), last)
        if (inside_start, inside_end) != (start, end):
            outside_kwh += energy_kwh
        clipped.append((inside_start, inside_end, energy_kwh))
    notes: tuple[str, ...] = ()
    if outside_kwh > 0:
        notes = (
            f"{outside_kwh:.3g} kWh fell outside the {series.region} series ({first.isoformat()} to "
            f"{last.isoformat()}) and was charged at its nearest slot",
        )
    return TimeResolved(timeline_emissions(clipped, series, pue=pue), outside_kwh, notes)
