"""Carbon-aware execution: plan a fine-tuning run with `greentune.schedule`, then follow the plan.

Flexible Start (`fs`) waits until the planned start. Pause & Resume (`pr`)
runs each planned segment as one `Trainer.train` call: a callback saves a
full checkpoint (weights, optimizer, scheduler, RNG, data position) and stops
the Trainer at the first optimizer step past the segment's end; the follower
waits until the next segment and resumes from that checkpoint, so the steps
and the final weights are those of an uninterrupted run. Each segment is its
own meter window.

The ledger gets the plan, the executed segments (simulated or wall-clock
start/end, optimizer steps, measured energy) and the realised emissions —
each segment's energy spread over its span and integrated against the
series (`greentune.carbon.timeline_emissions`, × PUE) — beside the run-now
counterfactual: the same segment energies laid back to back from the
requested start. Energy outside the segments (loading the model, the final
validation and test passes) is in the record's totals but not in these two
figures, since it does not move with the plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from greentune.carbon import IntensitySeries, timeline_emissions
from greentune.errors import GreentuneError
from greentune.finetune.clock import Clock
from greentune.schedule import Job, PauseRules, Plan, add_seconds, parse_duration_s, plan_job
from greentune.schedule.sources import check_source, is_live, load_series, read_start


@dataclass(frozen=True)
class ExecutedSegment:
    """One stretch the job really ran: clock `start`/`end` (ISO 8601), optimizer `steps`,
    real `duration_s` and measured `energy_kwh`, its emissions on the series (× PUE)."""

    index: int
    start: str
    end: str
    steps: int
    duration_s: float
    energy_kwh: float
    emissions_gco2eq: float
    mean_intensity_gco2eq_per_kwh: float


@dataclass(frozen=True)
class DurationEstimate:
    """How long the job is expected to run uninterrupted, and how that was found."""

    duration_s: float
    method: str
    power_w: float | None = None


def expected_duration(spec: Any, given: str | None) -> DurationEstimate:
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


def requested_start(
    at: str | None, clock_kind: str, source: str, region: str, now: datetime
) -> tuple[datetime, str | None]:
    """The job's requested start (tz-aware) and a note when a time zone was assumed.

    A simulated clock needs `at` (the history to replay); a real clock starts
    now or at a future `at`.
    """
    if at is None:
        if clock_kind == "simulated":
            raise GreentuneError("--clock simulated replays history: give --at (e.g. 2020-06-01T00:00)")
        return now, None
    return read_start(at, "--at", source, region)


def check_plan_options(mode: str, clock_kind: str, source: str) -> None:
    """Refuse an unknown mode, clock or source before anything slow (the ledger, the series) is read."""
    if mode not in ("fs", "pr"):
        raise GreentuneError(f"unknown --carbon-aware mode {mode!r}; use fs (Flexible Start) or pr (Pause & Resume)")
    if clock_kind not in ("real", "simulated"):
        raise GreentuneError(f"unknown --clock {clock_kind!r}; use real or simulated")
    check_source(source)


def plan_run(
    *,
    mode: str,
    region: str,
    source: str,
    start: datetime,
    duration_s: float,
    window_s: float,
    power_w: float,
    clock_kind: str,
    now: datetime,
    rules: PauseRules | None = None,
    pue: float = 1.0,
) -> tuple[Plan, IntensitySeries]:
    """Plan the job (`fs` or `pr`) on `source`'s series for `region`; returns the plan and the series."""
    check_plan_options(mode, clock_kind, source)
    deadline = add_seconds(start, window_s + duration_s)
    if clock_kind == "real" and deadline <= now:
        raise GreentuneError(
            f"the deadline {deadline.isoformat(timespec='minutes')} has passed; give a future --at, "
            "or --clock simulated to replay history"
        )
    if clock_kind == "simulated" and is_live(source):
        raise GreentuneError(
            f"--clock simulated replays history, but {source} is a live forecast; use entsoe or csv:PATH"
        )
    if clock_kind == "real" and start < now:  # a start already past: plan from now, keeping the deadline
        window_s, start = max(0.0, window_s - (now - start).total_seconds()), now
    job = Job(start=start, duration_s=duration_s, window_s=window_s, power_w=power_w)
    pad_s = 0 if start.timestamp() % 3600 == 0 else 3600  # room to round the start up to a slot
    series = load_series(source, region, start, add_seconds(deadline, pad_s))
    return plan_job(series, job, mode, rules=rules, pue=pue), series  # type: ignore[arg-type]


@dataclass
class PlanFollower:
    """Runs a Trainer along `plan` on `clock`, metering each segment; see the module docstring."""

    plan: Plan
    series: IntensitySeries
    clock: Clock
    duration: DurationEstimate
    executed: list[ExecutedSegment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def wait_for_start(self) -> None:
        """Wait (countdown, or a jump on the simulated clock) until the plan's first segment."""
        self.clock.wait_until(self.plan.start, f"segment 1/{len(self.plan.segments)}")

    def train(self, trainer: Any, callback: Any, resume_from: str | None) -> None:
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
            window = f"segment-{index + 1}"
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

    def _executed_segment(self, index: int, start: datetime, steps: int, measurement: Any) -> None:
        end = self.clock.now()
        emissions = timeline_emissions(
            [self._covered(start, end, measurement.energy_kwh)], self.series, pue=self.plan.pue
        )
        self.executed.append(
            ExecutedSegment(
                index=index + 1,
                start=start.isoformat(),
                end=end.isoformat(),
                steps=steps,
                duration_s=measurement.duration_s,
                energy_kwh=measurement.energy_kwh,
                emissions_gco2eq=emissions.emissions_gco2eq,
                mean_intensity_gco2eq_per_kwh=emissions.mean_intensity_gco2eq_per_kwh,
            )
        )

    def _covered(self, start: datetime, end: datetime, energy_kwh: float) -> tuple[datetime, datetime, float]:
        """The interval clipped to the series' span (a run past the loaded series is charged at its last slot), noted."""
        first = self.series.start_utc
        last = first + timedelta(seconds=self.series.step_s * len(self.series.values_gco2eq_per_kwh))
        clipped_start = min(max(start, first), last - timedelta(seconds=1))
        clipped_end = min(max(end, clipped_start), last)
        if (clipped_start, clipped_end) != (start, end):
            self.notes.append(
                f"{start.isoformat()}–{end.isoformat()} lies partly outside the intensity series; "
                "charged at the series' nearest slots"
            )
        return clipped_start, clipped_end, energy_kwh

    def counterfactual_gco2eq(self) -> float:
        """The executed segments' energies laid back to back from the requested start (the run-now case), × PUE."""
        intervals, moment = [], self.plan.requested_start
        for segment in self.executed:
            span = datetime.fromisoformat(segment.end) - datetime.fromisoformat(segment.start)
            intervals.append(self._covered(moment, moment + span, segment.energy_kwh))
            moment += span
        return timeline_emissions(intervals, self.series, pue=self.plan.pue).emissions_gco2eq if intervals else 0.0

    def to_record(self) -> dict[str, Any]:
        """The `carbon_aware` entry of the run's `RunRecord`."""
        realised = sum(segment.emissions_gco2eq for segment in self.executed)
        counterfactual = self.counterfactual_gco2eq()
        return {
            "mode": self.plan.mode,
            "clock": self.clock.kind,
            "seconds_per_step": getattr(self.clock, "seconds_per_step", None),
            "region": self.plan.region,
            "source": self.plan.source,
            "kind": self.plan.kind,
            "expected_duration_s": self.duration.duration_s,
            "duration_method": self.duration.method,
            "plan": self.plan.to_dict(),
            "segments": [asdict(segment) for segment in self.executed],
            "steps": sum(segment.steps for segment in self.executed),
            "energy_kwh": sum(segment.energy_kwh for segment in self.executed),
            "realised_gco2eq": realised,
            "counterfactual_gco2eq": counterfactual,
            "savings_pct": 100 * (counterfactual - realised) / counterfactual if counterfactual > 0 else 0.0,
            "notes": [
                *self.notes,
                "realised and counterfactual cover the training segments; loading and the final "
                "validation/test passes are in the run's totals only",
            ],
        }
