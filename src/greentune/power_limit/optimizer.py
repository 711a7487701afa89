"""`PowerLimitOptimizer`: profile a few GPU power limits on a job's first steps, choose one, restore at the end.

The same idea as Zeus's GlobalPowerLimitOptimizer (warm-up steps, then a
fixed number of profiling steps per limit, from the highest limit down, then
the choice by objective), written for greentune because Zeus would bring a
second meter and its own monitor into the Trainer: here the profile reads the
GPUs' own energy counters through `PowerControl`, the choice is a pure
function (`choose_limit`) and the profile and the choice go into the run's
record. The original limits are put back by `restore()`, which runs at the
end of training, on a crash, at interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import atexit
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from greentune.errors import GreentuneError
from greentune.power_limit.control import PowerControl, PowerLimitDenied


class Objective(StrEnum):
    """What the chosen limit minimises."""

    ENERGY = "energy"
    TIME = "time"
    ENERGY_WITHIN_SLOWDOWN = "energy-within-slowdown"


@dataclass(frozen=True)
class LimitProfile:
    """Time and GPU energy (all GPUs) of the same number of training steps at one power limit."""

    limit_w: int
    steps: int
    duration_s: float
    energy_j: float


@dataclass(frozen=True)
class PowerLimitResult:
    """What the optimizer did: the profile, the limit chosen and whether it could be applied."""

    objective: Objective
    original_limits_w: tuple[int, ...]
    profiles: tuple[LimitProfile, ...]
    chosen_w: int | None
    applied: bool
    note: str


def candidate_limits_w(low_w: int, high_w: int, step_w: int) -> list[int]:
    """Limits from `high_w` down to `low_w` in steps of `step_w` (`low_w` always included)."""
    if step_w <= 0:
        raise GreentuneError("the power-limit step must be a positive number of watts")
    limits = list(range(high_w, low_w, -step_w))
    return [*limits, low_w] if not limits or limits[-1] != low_w else limits


def choose_limit(profiles: Sequence[LimitProfile], objective: Objective, max_slowdown_pct: float) -> LimitProfile:
    """The profile that meets `objective`; ties go to the higher limit.

    energy: least energy; time: least time; energy-within-slowdown: least energy
    among the limits at most `max_slowdown_pct` % slower than the fastest.
    """
    if not profiles:
        raise GreentuneError("no power limit was profiled")
    by_limit = sorted(profiles, key=lambda profile: -profile.limit_w)
    if objective is Objective.TIME:
        return min(by_limit, key=lambda profile: profile.duration_s)
    if objective is Objective.ENERGY:
        return min(by_limit, key=lambda profile: profile.energy_j)
    fastest_s = min(profile.duration_s for profile in by_limit)
    allowed = [profile for profile in by_limit if profile.duration_s <= fastest_s * (1 + max_slowdown_pct / 100)]
    return min(allowed, key=lambda profile: profile.energy_j)


@dataclass
class PowerLimitOptimizer:
    """Call `on_step_end()` after every optimizer step; `restore()` when training ends.

    With `fixed_limit_w` the limit is applied at the first step and nothing is
    profiled. Otherwise: `warmup_steps` at the current limit, then
    `profile_steps` per candidate limit, then the chosen limit for the rest of
    the job. Without permission to set limits the job goes on at the default
    and `result().note` says so.
    """

    controls: Sequence[PowerControl]
    objective: Objective = Objective.ENERGY_WITHIN_SLOWDOWN
    max_slowdown_pct: float = 10.0
    warmup_steps: int = 10
    profile_steps: int = 20
    step_w: int = 50
    fixed_limit_w: int | None = None
    clock: Callable[[], float] = time.monotonic
    _original_w: tuple[int, ...] = ()
    _candidates_w: list[int] = field(default_factory=list)
    _profiles: list[LimitProfile] = field(default_factory=list)
    _steps_seen: int = 0
    _window_start: tuple[float, float] | None = None
    _chosen_w: int | None = None
    _note: str = ""
    _done: bool = False
    _restored: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_step_end(self) -> None:
        """Advance the profile by one training step."""
        if self._done:
            return
        if self._steps_seen == 0:
            self._start()
        self._steps_seen += 1
        if self._done:
            return
        if self._steps_seen < self.warmup_steps:
            return
        if self._window_start is None:  # warm-up over: start with the first candidate
            self._begin_profile(0)
            return
        if (self._steps_seen - self.warmup_steps) % self.profile_steps == 0:
            index = len(self._profiles)
            self._profiles.append(self._end_profile(self._candidates_w[index]))
            if index + 1 < len(self._candidates_w):
                self._begin_profile(index + 1)
            else:
                self._finish()

    def _start(self) -> None:
        self._original_w = tuple(control.power_limit_w() for control in self.controls)
        self._register_restore()
        if self.fixed_limit_w is not None:
            low_w, high_w = self.controls[0].limit_range_w()
            if not low_w <= self.fixed_limit_w <= high_w:
                self._stop(f"power limit {self.fixed_limit_w} W is outside this GPU's range {low_w}–{high_w} W")
                return
            if self._apply(self.fixed_limit_w):
                self._chosen_w = self.fixed_limit_w
                self._stop(f"power limit fixed at {self.fixed_limit_w} W")
            return
        low_w, high_w = self.controls[0].limit_range_w()
        self._candidates_w = candidate_limits_w(low_w, high_w, self.step_w)

    def _begin_profile(self, index: int) -> None:
        if self._apply(self._candidates_w[index]):
            self._window_start = (self.clock(), self._energy_j())

    def _end_profile(self, limit_w: int) -> LimitProfile:
        assert self._window_start is not None
        started_s, started_j = self._window_start
        return LimitProfile(limit_w, self.profile_steps, self.clock() - started_s, self._energy_j() - started_j)

    def _finish(self) -> None:
        chosen = choose_limit(self._profiles, self.objective, self.max_slowdown_pct)
        if self._apply(chosen.limit_w):
            self._chosen_w = chosen.limit_w
            self._stop(f"power limit {chosen.limit_w} W chosen for {self.objective} from {len(self._profiles)} limits")

    def _apply(self, watts: int) -> bool:
        try:
            for control in self.controls:
                control.set_power_limit_w(watts)
        except PowerLimitDenied as denied:
            self._stop(f"{denied}; the run goes on at the default power limit")
            return False
        self._restored = False
        return True

    def _stop(self, note: str) -> None:
        self._note, self._done = note, True

    def _energy_j(self) -> float:
        return sum(control.total_energy_j() for control in self.controls)

    def restore(self) -> None:
        """Put the original limits back (idempotent, safe from a signal handler)."""
        with self._lock:
            if self._restored:
                return
            for control, watts in zip(self.controls, self._original_w, strict=True):
                control.set_power_limit_w(watts)
            self._restored = True

    def _register_restore(self) -> None:
        atexit.register(self.restore)
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum: int, frame: Any) -> None:
            self.restore()
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.raise_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, on_sigterm)

    def result(self) -> PowerLimitResult:
        """The profile so far and the choice (None until made)."""
        note = self._note or f"profiling power limits: {len(self._profiles)} of {len(self._candidates_w)} done"
        return PowerLimitResult(
            objective=self.objective,
            original_limits_w=self._original_w,
            profiles=tuple(self._profiles),
            chosen_w=self._chosen_w,
            applied=self._chosen_w is not None,
            note=note,
        )
