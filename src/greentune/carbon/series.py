"""`IntensitySeries`: grid carbon intensity over time, on a regular grid of slots.

A series is a start instant, a slot length and one value per slot
(gCO2eq/kWh, held constant over the slot). Instants are kept in UTC so that
slot arithmetic never trips over a daylight-saving change; `tz` is only used to
show times the way the data source (or the user) writes them.

Validation is strict, as the carbon issue asks: timestamps without a time zone,
duplicate timestamps, negative or NaN intensities, and gaps are errors. Gaps
can be filled, but only when the caller names a fill (`ffill` or
`interpolate`) — never silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

import numpy as np

from greentune.errors import GreentuneError

Kind = Literal["average", "marginal"]
Fill = Literal["ffill", "interpolate"]
KINDS: tuple[Kind, ...] = ("average", "marginal")
FILLS: tuple[Fill, ...] = ("ffill", "interpolate")


def require_aware(moment: datetime, what: str) -> datetime:
    """Return `moment` unchanged, or raise if it carries no time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise GreentuneError(f"{what} {moment.isoformat()} has no time zone; add one (e.g. +01:00, Z) or name a --tz")
    return moment


@dataclass(frozen=True)
class IntensitySeries:
    """Grid carbon intensity, one value per slot of `step_s` seconds.

    Fields: `start_utc` (start of slot 0, UTC), `step_s` (slot length, s),
    `values_gco2eq_per_kwh` (one per slot), `kind` ('average' or 'marginal'),
    `source` (who measured or modelled it), `region` (zone or country code),
    `tz` (time zone for display), `filled_slots` (how many gaps a named fill filled),
    `notes` (what a user of the data should know, e.g. how much of the grid it covers).
    """

    start_utc: datetime
    step_s: int
    values_gco2eq_per_kwh: np.ndarray
    kind: Kind
    source: str
    region: str
    tz: tzinfo = field(default=UTC)
    filled_slots: int = 0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.start_utc, "series start")
        object.__setattr__(self, "start_utc", self.start_utc.astimezone(UTC))
        values = np.asarray(self.values_gco2eq_per_kwh, dtype=float)
        object.__setattr__(self, "values_gco2eq_per_kwh", values)
        if self.step_s <= 0:
            raise GreentuneError(f"series step must be positive, got {self.step_s} s")
        if values.ndim != 1 or values.size == 0:
            raise GreentuneError("a series needs a one-dimensional, non-empty list of values")
        if self.kind not in KINDS:
            raise GreentuneError(f"series kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
        if bad.size:
            raise GreentuneError(
                f"{self.region} series has {bad.size} missing or negative values "
                f"(first at {self.slot_start(int(bad[0])).isoformat()}); pass a fill (ffill, interpolate)"
            )

    @classmethod
    def from_points(
        cls,
        times: Sequence[datetime],
        values_gco2eq_per_kwh: Sequence[float],
        *,
        kind: Kind,
        source: str,
        region: str,
        step_s: int | None = None,
        fill: Fill | None = None,
        tz: tzinfo | None = None,
        notes: Sequence[str] = (),
    ) -> IntensitySeries:
        """Build a series from (time, value) points, each the start of its slot.

        `step_s` defaults to the shortest spacing between points. Missing slots
        and NaN values are gaps: an error unless `fill` names how to fill them.
        """
        if len(times) != len(values_gco2eq_per_kwh) or not times:
            raise GreentuneError("a series needs as many timestamps as values, and at least one")
        for moment in times:
            require_aware(moment, f"{region} timestamp")
        seconds = np.array([moment.timestamp() for moment in times])
        if np.any(np.diff(seconds) <= 0):
            raise GreentuneError(f"{region} timestamps must be strictly increasing, without duplicates")
        if step_s is None:
            if len(times) < 2:
                raise GreentuneError("a single-point series needs an explicit step")
            step_s = round(float(np.diff(seconds).min()))
        offsets = (seconds - seconds[0]) / step_s
        if not np.allclose(offsets, np.round(offsets)):
            raise GreentuneError(f"{region} timestamps do not fall on a regular {step_s} s grid")
        slots = np.full(round(offsets[-1]) + 1, np.nan)
        slots[np.round(offsets).astype(int)] = np.asarray(values_gco2eq_per_kwh, dtype=float)
        missing = ~np.isfinite(slots)
        if missing.any():
            if fill is None:
                first = datetime.fromtimestamp(seconds[0] + step_s * int(np.argmax(missing)), UTC)
                raise GreentuneError(
                    f"{region} series has {int(missing.sum())} missing slots of {step_s} s "
                    f"(first at {first.astimezone(tz or times[0].tzinfo).isoformat()}); "
                    "pass a fill (ffill or interpolate) to fill them"
                )
            slots = _filled(slots, fill)
        return cls(
            start_utc=times[0],
            step_s=step_s,
            values_gco2eq_per_kwh=slots,
            kind=kind,
            source=source,
            region=region,
            tz=tz or times[0].tzinfo or UTC,
            filled_slots=int(missing.sum()),
            notes=tuple(notes),
        )

    @property
    def step(self) -> timedelta:
        """Slot length."""
        return timedelta(seconds=self.step_s)

    @property
    def end_utc(self) -> datetime:
        """End of the last slot (exclusive)."""
        return self.slot_start(len(self.values_gco2eq_per_kwh)).astimezone(UTC)

    def slot_start(self, index: int) -> datetime:
        """Start of slot `index`, in the series' display time zone."""
        return (self.start_utc + timedelta(seconds=self.step_s * index)).astimezone(self.tz)

    def slot_of(self, moment: datetime, *, round_up: bool = False) -> int:
        """Index of the slot containing `moment` (or the first slot starting at or after it)."""
        offset = (require_aware(moment, "time").astimezone(UTC) - self.start_utc).total_seconds() / self.step_s
        return math.ceil(offset - 1e-9) if round_up else math.floor(offset + 1e-9)

    def values_between(self, start: datetime, end: datetime) -> np.ndarray:
        """Values of the slots that cover [start, end); an error if the series does not cover it."""
        first, stop = self.slot_of(start), self.slot_of(end, round_up=True)
        if first < 0 or stop > len(self.values_gco2eq_per_kwh):
            raise GreentuneError(
                f"{self.region} series ({self.source}) covers {self.slot_start(0).isoformat()} to "
                f"{self.end_utc.astimezone(self.tz).isoformat()}, but {start.isoformat()} to "
                f"{end.isoformat()} was asked for; pick times inside it or another source"
            )
        return self.values_gco2eq_per_kwh[first:stop]


def _filled(slots: np.ndarray, fill: Fill) -> np.ndarray:
    """Fill the gaps; a gap before the first known value takes that value."""
    if fill not in FILLS:
        raise GreentuneError(f"unknown fill {fill!r}; use one of {', '.join(FILLS)}")
    known = np.flatnonzero(np.isfinite(slots))
    if known.size == 0:
        raise GreentuneError("the series has no values at all to fill from")
    if fill == "interpolate":
        return np.interp(np.arange(slots.size), known, slots[known])
    last_known = np.maximum.accumulate(np.where(np.isfinite(slots), np.arange(slots.size), known[0]))
    return slots[last_known]
