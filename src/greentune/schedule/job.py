"""What is being scheduled: a job's requested start, length, flexibility and energy profile.

A job draws either a constant power or a measured power timeline (seconds
since the job started → W). Planners need its energy per slot of the
intensity series' grid, which `Job.energy_per_slot_kwh` integrates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from greentune.carbon.series import require_aware
from greentune.errors import GreentuneError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(min|d|h|m|s)", re.IGNORECASE)
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "min": 60, "s": 1}
_HEADROOM = 1e6  # products of the energy with intensities (g/kWh) and PUE must stay finite


def parse_duration_s(text: str) -> float:
    """'6h', '90m', '1d12h', '45s', '1.5h' → seconds; anything else is an error."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts).lower() != compact.lower():
        raise GreentuneError(f"cannot read duration {text!r}; write it like 6h, 90m, 1d12h or 45s")
    return sum(float(number) * _SECONDS[unit.lower()] for number, unit in parts)


def add_seconds(start: datetime, seconds: float) -> datetime:
    """`start` + `seconds`; a time past the year 9999 (the most a datetime holds) is a one-line error."""
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        raise GreentuneError(
            f"{start.isoformat(timespec='minutes')} + {seconds / 86400:,.1f} days is past the year 9999; "
            "give an earlier start or a shorter duration or window"
        ) from None


# An assumption, not a published figure: the power a plan assumes when nothing
# measured is known. Plans scale with it; savings in % do not depend on it.
DEFAULT_POWER_W = 1000.0


def flexibility_s(window: str, max_duration: str | None, duration_s: float) -> float:
    """Seconds of flexibility from `--window` (a duration, or a % of the job) or `--max-duration` (total allowed)."""
    if max_duration is not None:
        total_s = parse_duration_s(max_duration)
        if total_s < duration_s:
            raise GreentuneError(f"--max-duration {max_duration} is shorter than the job ({duration_s / 3600:g} h)")
        return total_s - duration_s
    if window.strip().endswith("%"):
        try:
            return float(window.strip()[:-1]) / 100 * duration_s
        except ValueError:
            raise GreentuneError(f"cannot read --window {window!r}; write 24h or 50%") from None
    return parse_duration_s(window)


@dataclass(frozen=True)
class Job:
    """A job to place in time.

    `start`: earliest (requested) start, tz-aware. `duration_s`: uninterrupted
    run time. `window_s`: shared flexibility — Flexible Start may begin up to
    `window_s` after `start`; Pause & Resume may use any time before
    `start + window_s + duration_s`. Power: `power_w` (constant), or
    `timeline_elapsed_s` with `timeline_power_w` (a measured run).
    """

    start: datetime
    duration_s: float
    window_s: float
    power_w: float | None = None
    timeline_elapsed_s: tuple[float, ...] = ()
    timeline_power_w: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        require_aware(self.start, "job start")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise GreentuneError(f"job duration must be positive, got {self.duration_s} s")
        if not (math.isfinite(self.window_s) and self.window_s >= 0):
            raise GreentuneError(f"window must be zero or positive, got {self.window_s} s")
        has_timeline = bool(self.timeline_elapsed_s)
        if (self.power_w is None) == (not has_timeline):
            raise GreentuneError("give the job either a constant power or a power timeline, not both or neither")
        if self.power_w is not None and not (math.isfinite(self.power_w) and self.power_w > 0):
            raise GreentuneError(f"power must be positive, got {self.power_w} W")
        if has_timeline:
            elapsed = np.asarray(self.timeline_elapsed_s, dtype=float)
            power = np.asarray(self.timeline_power_w, dtype=float)
            in_order = elapsed.shape == power.shape and elapsed.size >= 2 and bool(np.all(np.diff(elapsed) > 0))
            if not (in_order and np.all(np.isfinite(power)) and np.all(power >= 0)):  # NaN fails every comparison
                raise GreentuneError("a power timeline needs ≥ 2 samples in time order with finite, non-negative power")
        peak_w = self.power_w if self.power_w is not None else max(self.timeline_power_w)
        if not math.isfinite(peak_w * self.duration_s * _HEADROOM):  # emissions multiply it by intensity and PUE
            raise GreentuneError(
                f"the job's energy ({peak_w:g} W for {self.duration_s:g} s) is too large to compute; check its power"
            )

    def slot_count(self, step_s: int) -> int:
        """Slots of `step_s` seconds the job occupies when it runs without pause."""
        return math.ceil(self.duration_s / step_s - 1e-9)

    def energy_per_slot_kwh(self, step_s: int) -> np.ndarray:
        """Energy (kWh) of each of the job's own slots, from its start; the last may be partial."""
        slots = self.slot_count(step_s)
        edges_s = np.minimum(np.arange(slots + 1) * step_s, self.duration_s)
        if self.power_w is not None:
            return np.diff(edges_s) * self.power_w / 3.6e6
        elapsed = np.asarray(self.timeline_elapsed_s, dtype=float)
        power = np.asarray(self.timeline_power_w, dtype=float)
        points = np.union1d(np.clip(elapsed, 0, self.duration_s), edges_s)
        watts = np.interp(points, elapsed, power)
        pieces_j = (watts[1:] + watts[:-1]) / 2 * np.diff(points)
        slot_of_piece = np.minimum(((points[1:] + points[:-1]) / 2 // step_s).astype(int), slots - 1)
        return np.bincount(slot_of_piece, weights=pieces_j, minlength=slots) / 3.6e6
