"""`Plan`: when a job should run — the segments a runner follows — and what that saves.

A plan is a list of `Segment(start, end)` with tz-aware datetimes; a runner
waits until each segment starts and checkpoints at its end. The plan also
carries the counterfactual (the same job started at once), so savings are
always stated against running now, with the intensity data's source and kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from greentune.carbon import Kind
from greentune.schedule.choices import Mode


@dataclass(frozen=True)
class Segment:
    """One uninterrupted stretch of the job, [start, end), tz-aware."""

    start: datetime
    end: datetime

    @property
    def duration_s(self) -> float:
        """Length of the segment in seconds."""
        return self.end.timestamp() - self.start.timestamp()


@dataclass(frozen=True)
class Plan:
    """A schedule for one job in one region.

    `emissions_gco2eq` under the plan and `emissions_now_gco2eq` if started
    at the requested time, both × PUE; `energy_kwh` is IT energy under the plan
    (the job plus any checkpoint energy). `deadline` is the latest end the plan
    was allowed. `notes` say what was assumed or rounded.
    """

    mode: Mode
    region: str
    requested_start: datetime
    deadline: datetime
    segments: tuple[Segment, ...]
    energy_kwh: float
    emissions_gco2eq: float
    emissions_now_gco2eq: float
    pue: float
    source: str
    kind: Kind
    step_s: int
    notes: tuple[str, ...] = ()

    @property
    def start(self) -> datetime:
        """When the job first starts."""
        return self.segments[0].start

    @property
    def end(self) -> datetime:
        """When the job finishes."""
        return self.segments[-1].end

    @property
    def pauses(self) -> int:
        """Number of pauses: contiguous segments − 1."""
        return len(self.segments) - 1

    @property
    def run_s(self) -> float:
        """Time spent running, summed over segments."""
        return sum(segment.duration_s for segment in self.segments)

    @property
    def pauses_per_hour(self) -> float:
        """Pauses per hour of running time (as Dodge et al. 2022 report for P&R)."""
        return self.pauses / (self.run_s / 3600)

    @property
    def savings_pct(self) -> float:
        """Emissions saved against starting at once, in percent of the run-now emissions."""
        if self.emissions_now_gco2eq <= 0:
            return 0.0
        return 100 * (self.emissions_now_gco2eq - self.emissions_gco2eq) / self.emissions_now_gco2eq

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (times as ISO 8601 with offsets)."""
        return {
            "mode": self.mode.value,
            "mode_name": self.mode.long_name,
            "region": self.region,
            "requested_start": self.requested_start.isoformat(),
            "deadline": self.deadline.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "segments": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in self.segments],
            "pauses": self.pauses,
            "pauses_per_hour": self.pauses_per_hour,
            "energy_kwh": self.energy_kwh,
            "emissions_now_gco2eq": self.emissions_now_gco2eq,
            "emissions_plan_gco2eq": self.emissions_gco2eq,
            "savings_gco2eq": self.emissions_now_gco2eq - self.emissions_gco2eq,
            "savings_pct": self.savings_pct,
            "pue": self.pue,
            "source": self.source,
            "kind": self.kind,
            "slot_s": self.step_s,
            "notes": list(self.notes),
        }
