"""A job laid on an intensity series' grid: the slots it may use and how a choice becomes a `Plan`.

Both planners work on slot indices relative to the first slot the job may
use. The job's requested start is rounded up to the next slot boundary (a
note says so when that moves it), so every candidate start lies inside the
requested window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from greentune.carbon import IntensitySeries
from greentune.errors import GreentuneError
from greentune.schedule.job import Job
from greentune.schedule.plans import Mode, Plan, Segment


@dataclass(frozen=True)
class JobWindow:
    """`job` on `series`: `first_slot` (series index of the earliest usable slot),
    `energies_kwh` (per job slot), `start_count` (Flexible Start candidates),
    `intensity` (gCO2eq/kWh of every slot up to the deadline)."""

    series: IntensitySeries
    job: Job
    first_slot: int
    energies_kwh: np.ndarray
    start_count: int
    intensity: np.ndarray
    notes: tuple[str, ...]

    @classmethod
    def build(cls, series: IntensitySeries, job: Job) -> JobWindow:
        """Lay `job` on `series`; an error if the series does not cover start … deadline."""
        first_slot = series.slot_of(job.start, round_up=True)
        notes = []
        aligned = series.slot_start(first_slot)
        if aligned.timestamp() != job.start.timestamp():
            notes.append(f"start rounded up to the series' {series.step_s // 60}-min slot: {aligned.isoformat()}")
        if series.filled_slots:
            notes.append(f"{series.filled_slots} missing slots of the series were filled (as asked)")
        notes.extend(series.notes)
        energies = job.energy_per_slot_kwh(series.step_s)
        start_count = int(job.window_s // series.step_s) + 1
        span = start_count - 1 + len(energies)
        span_end = series.slot_start(first_slot + span)
        intensity = series.values_between(aligned, span_end)
        return cls(series, job, first_slot, energies, start_count, intensity, tuple(notes))

    @property
    def slot_count(self) -> int:
        """Slots the job needs when it runs without pause."""
        return len(self.energies_kwh)

    @property
    def deadline(self) -> datetime:
        """End of the last usable slot: requested start + window + duration, on the grid."""
        return self._time(len(self.intensity))

    def _time(self, slot: float) -> datetime:
        """Start of window slot `slot` (fractions allowed), in the job's time zone."""
        offset = timedelta(seconds=(self.first_slot + slot) * self.series.step_s)
        return (self.series.start_utc + offset).astimezone(self.job.start.tzinfo)

    def emissions_g(self, slots: Sequence[int], pause_kwh: float = 0.0) -> float:
        """IT-side emissions (g, before PUE) of running job slot k in window slot `slots[k]`,
        plus `pause_kwh` at the intensity of every slot where the job resumes."""
        chosen = np.asarray(slots)
        total = float(self.energies_kwh @ self.intensity[chosen])
        resumes = chosen[1:][np.diff(chosen) > 1]
        return total + pause_kwh * float(self.intensity[resumes].sum())

    def plan(
        self, mode: Mode, slots: Sequence[int], *, pue: float, pause_kwh: float = 0.0, notes: Sequence[str] = ()
    ) -> Plan:
        """The `Plan` that runs job slot k in window slot `slots[k]`."""
        if not pue >= 1.0:
            raise GreentuneError(f"PUE must be at least 1.0, got {pue}")
        chosen = [int(slot) for slot in slots]
        if len(chosen) != self.slot_count or any(b <= a for a, b in itertools.pairwise(chosen)):
            raise ValueError("a plan needs one increasing window slot per job slot")
        last_fraction = self.job.duration_s / self.series.step_s - (self.slot_count - 1)
        segments, begin = [], chosen[0]
        for previous, current in zip(chosen, [*chosen[1:], None], strict=True):
            if current is None or current != previous + 1:
                end = self._time(previous + (last_fraction if current is None else 1))
                segments.append(Segment(self._time(begin), end))
                begin = current if current is not None else begin
        pauses = len(segments) - 1
        return Plan(
            mode=mode,
            region=self.series.region,
            requested_start=self.job.start,
            deadline=self.deadline,
            segments=tuple(segments),
            energy_kwh=float(self.energies_kwh.sum()) + pauses * pause_kwh,
            emissions_gco2eq=pue * self.emissions_g(chosen, pause_kwh),
            emissions_now_gco2eq=pue * self.emissions_g(range(self.slot_count)),
            pue=pue,
            source=self.series.source,
            kind=self.series.kind,
            step_s=self.series.step_s,
            notes=self.notes + tuple(notes),
        )
