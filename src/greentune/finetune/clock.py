"""Clocks a carbon-aware run follows: the wall clock, or simulated time that replays history.

`RealClock` is the wall clock (UTC); waiting shows a Rich countdown and sleeps.

`SimulatedClock` replays a plan on historical data in seconds. Its time is
driven by the training itself, so a replay is deterministic:

    simulated now = at + optimizer steps done × seconds_per_step + time skipped by waits

with `seconds_per_step = expected job duration ÷ total optimizer steps` (set
by `calibrate` when the Trainer knows its step count). So the plan's slots map
onto optimizer steps — with a 12 h job of 96 steps, one simulated 15-minute
slot is 2 steps — loading, evaluation and checkpoints take no simulated time,
and a wait jumps to its target at once.

Both clocks say how they relate to the wall clock, for time-resolved
accounting (`greentune.carbon.ClockMap`): `clock_map()` places each wall-clock
instant of the run on the clock, and `run_now_map()` on the clock of the same
run started at the requested time without waits (the counterfactual).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from greentune.carbon.timeline import ClockMap
from greentune.schedule.choices import ClockKind


class Clock(Protocol):
    """What a plan follower needs from a clock."""

    kind: ClockKind

    def now(self) -> datetime:
        """The current time, tz-aware."""
        ...

    def observe_step(self, global_step: int) -> None:
        """The Trainer finished optimizer step `global_step`."""
        ...

    def calibrate(self, total_steps: int) -> None:
        """The Trainer will run `total_steps` optimizer steps in all."""
        ...

    def wait_until(self, moment: datetime, what: str) -> float:
        """Block until `moment` (no-op when it has passed); returns the seconds waited on this clock."""
        ...

    def clock_map(self) -> ClockMap:
        """Wall-clock instants of the run → this clock's time."""
        ...

    def run_now_map(self) -> ClockMap:
        """Wall-clock instants of the run → the time they would have had with no waits from the requested start."""
        ...


class RealClock:
    """The wall clock; waits sleep, with a countdown on `console` (a Rich Console) when it is a terminal."""

    kind = ClockKind.REAL

    def __init__(self, console: Any = None) -> None:
        self.console = console
        self._waits: list[tuple[float, float]] = []  # wall-clock (start, end) of each wait

    def clock_map(self) -> ClockMap:
        """The wall clock itself."""
        return ClockMap()

    def run_now_map(self) -> ClockMap:
        """Wall time minus the waits before it; the clock stands still while waiting."""
        unix_s: list[float] = []
        clock_s: list[float] = []
        waited_s = 0.0
        for start_s, end_s in self._waits:
            unix_s += [start_s, end_s]
            clock_s += [start_s - waited_s, start_s - waited_s]
            waited_s += end_s - start_s
        return ClockMap(tuple(unix_s), tuple(clock_s)) if unix_s else ClockMap()

    def now(self) -> datetime:
        """Wall-clock time in UTC."""
        return datetime.now(UTC)

    def observe_step(self, global_step: int) -> None:
        """Wall time needs no steps."""

    def calibrate(self, total_steps: int) -> None:
        """Wall time needs no calibration."""

    def wait_until(self, moment: datetime, what: str) -> float:
        """Sleep until `moment`, redrawing a countdown every second."""
        remaining_s = moment.timestamp() - self.now().timestamp()
        if remaining_s <= 0:
            return 0.0
        began_s = time.time()
        try:
            self._sleep_until(moment, what, remaining_s)
        finally:
            self._waits.append((began_s, time.time()))
        return remaining_s

    def _sleep_until(self, moment: datetime, what: str, remaining_s: float) -> None:
        # a countdown only where someone watches: into a pipe or a log it is noise, and its refresh thread
        # can deadlock with a Ctrl-C that lands while the main thread holds the display's lock
        if self.console is None or not self.console.is_terminal:
            time.sleep(remaining_s)
            return
        from rich.errors import LiveError
        from rich.live import Live

        try:
            with Live(console=self.console, transient=True, refresh_per_second=2) as live:
                while (left_s := moment.timestamp() - self.now().timestamp()) > 0:
                    live.update(
                        f"waiting for {what} at {moment.isoformat(timespec='minutes')}: "
                        f"{timedelta(seconds=round(left_s))} left (Ctrl-C stops; the ledger keeps what ran)"
                    )
                    time.sleep(min(1.0, left_s))
        except LiveError:  # progress bars are already live (a pause inside the run): one line, then sleep
            self.console.print(
                f"paused until {what} at {moment.isoformat(timespec='minutes')} "
                f"({timedelta(seconds=round(remaining_s))})"
            )
            time.sleep(max(0.0, moment.timestamp() - self.now().timestamp()))


class SimulatedClock:
    """Simulated time starting at `at` and advancing `duration_s ÷ total steps` per optimizer step (module docstring)."""

    kind = ClockKind.SIMULATED

    def __init__(self, at: datetime, duration_s: float) -> None:
        self.at = at
        self.duration_s = duration_s
        self.seconds_per_step: float | None = None
        self._steps = 0
        self._skipped_s = 0.0
        self._anchors: list[tuple[float, float, float]] = []  # (wall s, clock s, run-now clock s)
        self._anchor()

    def _anchor(self, wall_s: float | None = None) -> None:
        now_s = self.now().timestamp()
        self._anchors.append((time.time() if wall_s is None else wall_s, now_s, now_s - self._skipped_s))

    def clock_map(self) -> ClockMap:
        """Simulated time at each step and wait; it stands still in between (loading, evaluation, checkpoints)."""
        return ClockMap(tuple(a[0] for a in self._anchors), tuple(a[1] for a in self._anchors), rate=0.0)

    def run_now_map(self) -> ClockMap:
        """Simulated time without the waits: at + steps × seconds per step."""
        return ClockMap(tuple(a[0] for a in self._anchors), tuple(a[2] for a in self._anchors), rate=0.0)

    def now(self) -> datetime:
        """at + steps × seconds per step + skipped waits."""
        work_s = self._steps * (self.seconds_per_step or 0.0)
        return self.at + timedelta(seconds=work_s + self._skipped_s)

    def observe_step(self, global_step: int) -> None:
        """Advance to optimizer step `global_step`."""
        self._steps = global_step
        self._anchor()

    def calibrate(self, total_steps: int) -> None:
        """Map the expected duration onto `total_steps` optimizer steps."""
        self.seconds_per_step = self.duration_s / max(1, total_steps)

    def wait_until(self, moment: datetime, what: str) -> float:
        """Jump to `moment` at once."""
        remaining_s = moment.timestamp() - self.now().timestamp()
        if remaining_s <= 0:
            return 0.0
        wall_s = time.time()  # one instant: a jump, not a steep run
        self._anchor(wall_s)
        self._skipped_s += remaining_s
        self._anchor(wall_s)
        return remaining_s
