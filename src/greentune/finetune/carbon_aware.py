"""Carbon-aware execution: plan a fine-tuning run with `greentune.schedule.plan`, then follow the plan.

Flexible Start (`fs`) waits until the planned start. Pause & Resume (`pr`)
runs each planned segment as one `Trainer.train` call: a callback saves a
full checkpoint (weights, optimizer, scheduler, RNG, data position) and stops
the Trainer at the first optimizer step past the segment's end; the follower
waits until the next segment and resumes from that checkpoint, so the steps
and the final weights are those of an uninterrupted run. Each segment is its
own meter window.

The ledger gets the plan, the executed segments (simulated or wall-clock
start/end, optimizer steps, measured energy, emissions) and the realised
emissions — the run's whole energy timeline on the plan's series, the same
figure as the record's `emissions_gco2eq` (`greentune.finetune.emissions`) —
beside the run-now counterfactual: the same timeline from the requested start
without waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from greentune.errors import GreentuneError
from greentune.finetune.clock import Clock
from greentune.ledger.record import CarbonAwareSummary, ExecutedSegment, Phase
from greentune.schedule import Plan, parse_duration_s

if TYPE_CHECKING:
    from transformers import Trainer

    from greentune.carbon import IntensitySeries
    from greentune.finetune.callback import GreenCallback
    from greentune.finetune.emissions import RunEmissions
    from greentune.finetune.spec import ExperimentSpec
    from greentune.meter import Measurement


@dataclass(frozen=True)
class DurationEstimate:
    """How long the job is expected to run uninterrupted, and how that was found."""

    duration_s: float
    method: str
    power_w: float | None = None


def expected_duration(spec: ExperimentSpec, given: str | None) -> DurationEstimate:
    """`--expected-duration` when given, else the last finished run of this spec in the ledger (its time and mean power)."""
    if given:
        return DurationEstimate(parse_duration_s(given), f"--expected-duration {given}")
    from greentune.ledger import read_runs

    name = spec.run_name()
    previous = [
        record
        for record in read_runs(tracking_uri=spec.ledger.tracking_uri, experiment=spec.ledger.experiment)
        if record.run_name == name and record.status == "FINISHED" and record.carbon_aware is None
    ]
    if not previous:
        raise GreentuneError(
            f"give --expected-duration (e.g. 2h): the plan needs the job's length, and the ledger has "
            f"no finished run of {name!r} in experiment {spec.ledger.experiment!r} to measure it from"
        )
    latest = max(previous, key=lambda record: record.start_time)
    return DurationEstimate(
        latest.duration_s,
        f"measured: run {latest.run_id[:8]} of this spec took {latest.duration_s:.0f} s",
        latest.avg_power_w,
    )


def accounting_site(spec_location: str | None, region: str) -> tuple[str | None, str | None]:
    """The site a carbon-aware run is accounted at, and a note when it is not the planned region.

    The region planned on is the site, unless the spec names another location (then that, said in one line);
    a region greentune has no annual figure for (a CSV file's name) leaves the spec's site as it is."""
    from greentune.carbon import resolve_site

    if spec_location:
        if resolve_site(spec_location).location != _location_or_none(region):
            return (
                spec_location,
                f"accounted at the spec's site.location {spec_location}, not the planned region {region}",
            )
        return spec_location, None
    location = _location_or_none(region)
    if location is None:
        return None, f"region {region} has no annual-average figure; the comparison figure is the world average"
    return location, None


def _location_or_none(region: str) -> str | None:
    from greentune.carbon import resolve_site

    try:
        return resolve_site(region).location
    except GreentuneError:
        return None


@dataclass(frozen=True)
class _Executed:
    """A segment as it ran, before its emissions are known: clock start/end, steps, its meter window."""

    index: int
    start: datetime
    end: datetime
    steps: int
    measurement: Measurement


@dataclass
class PlanFollower:
    """Runs a Trainer along `plan` on `clock`, metering each segment; see the module docstring."""

    plan: Plan
    series: IntensitySeries
    clock: Clock
    duration: DurationEstimate
    executed: list[_Executed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wait_for_start(self) -> None:
        """Wait (countdown, or a jump on the simulated clock) until the plan's first segment."""
        self.clock.wait_until(self.plan.start, f"segment 1/{len(self.plan.segments)}")

    def train(self, trainer: Trainer, callback: GreenCallback, resume_from: str | None) -> None:
        """`trainer.train` once per segment, pausing between them; `callback` is the run's `GreenCallback`."""
        from transformers.trainer_utils import get_last_checkpoint

        from greentune.finetune.segment_stop import SegmentStop

        stopper = SegmentStop(self.clock)
        trainer.callback_handler.callbacks.insert(
            1, stopper
        )  # after the flow callback, before the meter sees `control`
        segments = self.plan.segments
        for index, segment in enumerate(segments):
            if index < len(segments) - 1 and self.clock.now() >= segment.end:
                self.notes.append(
                    f"planned segment {index + 1} was over before training reached it (loading took longer)"
                )
                continue
            self.clock.wait_until(segment.start, f"segment {index + 1}/{len(segments)}")
            stopper.segment_end = segment.end if index < len(segments) - 1 else None
            start, steps_before = self.clock.now(), trainer.state.global_step
            window = Phase.SEGMENT.numbered(index + 1)
            callback.meter.begin_window(window)
            try:
                trainer.train(resume_from_checkpoint=resume_from)
            finally:
                measurement = callback.meter.end_window(window)
                self._executed_segment(index, start, trainer.state.global_step - steps_before, measurement)
            if not stopper.stopped:
                break
            resume_from = get_last_checkpoint(trainer.args.output_dir)
        if self.executed and self.executed[-1].index < len(segments):
            self.notes.append(f"training finished in planned segment {self.executed[-1].index} of {len(segments)}")
        overrun_s = self.clock.now().timestamp() - self.plan.end.timestamp()
        if overrun_s > 60:
            self.notes.append(
                f"training ran {overrun_s / 60:.0f} min past the plan's end (the expected duration was short)"
            )
        if self.clock.kind == "real" and len(self.executed) > 1:
            self.notes.append("the machine stayed on while paused: the run's time and energy totals include the pauses")

    def _executed_segment(self, index: int, start: datetime, steps: int, measurement: Measurement) -> None:
        self.executed.append(_Executed(index + 1, start, self.clock.now(), steps, measurement))

    def summary(self, emissions: RunEmissions, realised_gco2eq: float) -> CarbonAwareSummary | None:
        """The `carbon_aware` entry of the run's record: `emissions` on the plan's series, `realised_gco2eq` the
        record's emissions (None when the run had no timeline to account)."""
        if emissions.resolved is None or emissions.run_now is None or emissions.window_gco2eq is None:
            return None
        segments = []
        for executed in self.executed:
            grams = emissions.window_gco2eq(executed.measurement)
            energy_kwh = executed.measurement.energy_kwh
            segments.append(
                ExecutedSegment(
                    index=executed.index,
                    start=executed.start.isoformat(),
                    end=executed.end.isoformat(),
                    steps=executed.steps,
                    duration_s=executed.measurement.duration_s,
                    energy_kwh=energy_kwh,
                    emissions_gco2eq=grams,
                    mean_intensity_gco2eq_per_kwh=grams / (energy_kwh * self.plan.pue) if energy_kwh > 0 else 0.0,
                )
            )
        realised = realised_gco2eq
        counterfactual = emissions.run_now.emissions_gco2eq
        return CarbonAwareSummary.model_validate(
            {
                "mode": self.plan.mode,
                "clock": self.clock.kind,
                "seconds_per_step": getattr(self.clock, "seconds_per_step", None),
                "region": self.plan.region,
                "source": self.plan.source,
                "kind": self.plan.kind,
                "expected_duration_s": self.duration.duration_s,
                "duration_method": self.duration.method,
                "plan": self.plan.to_dict(),
                "segments": segments,
                "steps": sum(segment.steps for segment in segments),
                "energy_kwh": emissions.resolved.energy_kwh,
                "realised_gco2eq": realised,
                "counterfactual_gco2eq": counterfactual,
                "savings_pct": 100 * (counterfactual - realised) / counterfactual if counterfactual > 0 else 0.0,
                "notes": [
                    *self.notes,
                    "realised is the run's emissions (the record's figure: loading, training and evaluation on the "
                    "series); run now is the same energy timeline from the requested start without waits",
                ],
            }
        )
