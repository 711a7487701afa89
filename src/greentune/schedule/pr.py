"""Pause & Resume (Dodge et al. 2022), with the costs a real training job pays for pausing.

The paper's P&R runs the job in the lowest-intensity slots before the
deadline, in order; with a constant power that is a sort. Real jobs pay for
each pause (a checkpoint to save and restore: time and energy), should not
run in slivers (a minimum segment length) and may cap the number of pauses.
With any of those, or a job whose power varies from slot to slot, the
choice is an exact dynamic programme over (slot, job slots done, pauses,
current segment length) — greedy picks would break the constraints or miss
the optimum. Its model: a resume costs `checkpoint_kwh` at the intensity of
the slot where the job resumes, and `checkpoint_s` of wall time, which the
plan must absorb before the deadline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from greentune.carbon import IntensitySeries
from greentune.errors import GreentuneError
from greentune.schedule.job import Job
from greentune.schedule.plans import Mode, Plan
from greentune.schedule.window import JobWindow

MAX_DP_CELLS = 600_000_000  # slots × pauses × segment states × job slots (one bit each): ~75 MB and a few seconds


@dataclass(frozen=True)
class PauseRules:
    """What pausing costs and allows: `checkpoint_s` and `checkpoint_kwh` per resume,
    `min_segment_s` (shortest allowed run), `max_pauses` (None: no cap)."""

    checkpoint_s: float = 0.0
    checkpoint_kwh: float = 0.0
    min_segment_s: float = 0.0
    max_pauses: int | None = None

    def __post_init__(self) -> None:
        numbers = (self.checkpoint_s, self.checkpoint_kwh, self.min_segment_s)
        if any(not (math.isfinite(value) and value >= 0) for value in numbers):
            raise GreentuneError("checkpoint time, checkpoint energy and minimum segment must be zero or positive")
        if self.max_pauses is not None and self.max_pauses < 0:
            raise GreentuneError(f"max pauses must be zero or more, got {self.max_pauses}")


def choose_slots(
    intensity: np.ndarray,
    energies_kwh: np.ndarray,
    *,
    min_segment_slots: int = 1,
    pause_kwh: float = 0.0,
    max_pauses: int | None = None,
    pause_delay_slots: float = 0.0,
) -> list[int]:
    """Window slots (increasing) for job slots 0 … n−1 that minimise emissions under the rules."""
    slots, jobs = len(intensity), len(energies_kwh)
    if jobs > slots:
        raise GreentuneError(f"the job needs {jobs} slots but only {slots} lie before the deadline")
    unconstrained = min_segment_slots <= 1 and pause_kwh == 0 and max_pauses is None and pause_delay_slots == 0
    if unconstrained and np.all(energies_kwh == energies_kwh[0]):
        return sorted(np.argsort(intensity, kind="stable")[:jobs].tolist())
    return _exact_slots(
        intensity, energies_kwh, max(1, min(min_segment_slots, jobs)), pause_kwh, max_pauses, pause_delay_slots
    )


def _exact_slots(
    intensity: np.ndarray,
    energies_kwh: np.ndarray,
    min_run: int,
    pause_kwh: float,
    max_pauses: int | None,
    delay: float,
) -> list[int]:
    """DP over states (pauses p, segment state s, job slots done k); s = 0 idle, 1 … min_run running
    (min_run meaning 'long enough to stop')."""
    slots, jobs = len(intensity), len(energies_kwh)
    track = max_pauses is not None or delay > 0
    pause_cap = min(jobs // min_run - 1, slots - jobs)  # each pause needs a full segment before it and an idle slot
    if max_pauses is not None:
        pause_cap = min(pause_cap, max_pauses)
    if delay > 0:
        pause_cap = min(pause_cap, int((slots - jobs) / delay + 1e-9))
    pauses = pause_cap + 1 if track else 1
    if slots * pauses * (min_run + 1) * (jobs + 1) > MAX_DP_CELLS:
        raise GreentuneError("this plan is too large to solve exactly; set a max number of pauses or a shorter window")
    cost = np.full((pauses, min_run + 1, jobs + 1), np.inf)
    cost[0, 0, 0] = 0.0
    choice = []  # per slot, which of two predecessors each state came from, packed 8 states to a byte
    resumes = np.arange(jobs) >= 1  # dest k = 1 … n comes from k − 1; a resume if k − 1 ≥ 1
    for slot, grams_per_kwh in enumerate(intensity):
        run = energies_kwh * grams_per_kwh
        new = np.full_like(cost, np.inf)
        picked = np.zeros(cost.shape, dtype=bool)
        stay, stop = cost[:, 0, :], cost[:, min_run, :]
        new[:, 0, :] = np.minimum(stay, stop)
        picked[:, 0, :] = stop < stay
        idle = cost[:, 0, :-1]
        before_pause = np.vstack([np.full((1, jobs), np.inf), idle[:-1]]) if track else idle
        begin = np.where(resumes, before_pause + pause_kwh * grams_per_kwh, idle) + run
        if min_run == 1:
            keep = cost[:, 1, :-1] + run
            new[:, 1, 1:] = np.minimum(begin, keep)
            picked[:, 1, 1:] = keep < begin
        else:
            new[:, 1, 1:] = begin
            for length in range(2, min_run):
                new[:, length, 1:] = cost[:, length - 1, :-1] + run
            grow, keep = cost[:, min_run - 1, :-1] + run, cost[:, min_run, :-1] + run
            new[:, min_run, 1:] = np.minimum(grow, keep)
            picked[:, min_run, 1:] = keep < grow
        if delay > 0:
            late = slot + 1 + np.arange(pauses) * delay > slots + 1e-9
            new[late, 1:, jobs] = np.inf
        cost = new
        choice.append(np.packbits(picked, axis=-1))
    finals = np.stack([cost[:, 0, jobs], cost[:, min_run, jobs]])
    ending, pause = np.unravel_index(int(np.argmin(finals)), finals.shape)
    if not np.isfinite(finals[ending, pause]):
        raise GreentuneError("no plan meets these pause rules before the deadline; widen the window or relax the rules")
    return _walk_back(choice, int(pause), min_run if ending else 0, jobs, min_run, track)


def _walk_back(choice: list[np.ndarray], pause: int, state: int, done: int, min_run: int, track: bool) -> list[int]:
    """Follow the stored choices from the best final state back to slot 0; the slots that ran."""
    used = []
    for slot in range(len(choice) - 1, -1, -1):
        picked = (choice[slot][pause, state, done // 8] >> (7 - done % 8)) & 1
        if state == 0:
            state = min_run if picked else 0
            continue
        used.append(slot)
        done -= 1
        if state == 1 and not (min_run == 1 and picked):
            if track and done >= 1:
                pause -= 1
            state = 0
        elif 1 < state < min_run or (state == min_run > 1 and not picked):
            state -= 1
    return used[::-1]


def pause_resume(series: IntensitySeries, job: Job, *, rules: PauseRules | None = None, pue: float = 1.0) -> Plan:
    """Plan `job` in the cleanest slots before start + window + duration, honouring `rules`."""
    rules = rules or PauseRules()
    window = JobWindow.build(series, job)
    step_s = series.step_s
    slots = choose_slots(
        window.intensity,
        window.energies_kwh,
        min_segment_slots=math.ceil(rules.min_segment_s / step_s - 1e-9),
        pause_kwh=rules.checkpoint_kwh,
        max_pauses=rules.max_pauses,
        pause_delay_slots=rules.checkpoint_s / step_s,
    )
    notes = []
    if rules.checkpoint_s:
        notes.append(
            f"each resume adds {rules.checkpoint_s:g} s to restore from the checkpoint; "
            "the job ends that much later per pause, still before the deadline"
        )
    return window.plan(Mode.PR, slots, pue=pue, pause_kwh=rules.checkpoint_kwh, notes=notes)
