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
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    """What a plan follower needs from a clock."""

    kind: str

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


class RealClock:
    """The wall clock; waits sleep, with a countdown on `console` (a Rich Console) when given."""

    kind = "real"

    def __init__(self, console: Any = None) -> None:
        self.console = console

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
        if self.console is None:
            time.sleep(remaining_s)
            return remaining_s
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
        return remaining_s


class SimulatedClock:
    """Simulated time starting at `at` and advancing `duration_s ÷ total steps` per optimizer step (module docstring)."""

    kind = "simulated"

    def __init__(self, at: datetime, duration_s: float) -> None:
        self.at = at
        self.duration_s = duration_s
        self.seconds_per_step: float | None = None
        self._steps = 0
        self._skipped_s = 0.0

    def now(self) -> datetime:
        """at + steps × seconds per step + skipped waits."""
        work_s = self._steps * (self.seconds_per_step or 0.0)
        return self.at + timedelta(seconds=work_s + self._skipped_s)

    def observe_step(self, global_step: int) -> None:
        """Advance to optimizer step `global_step`."""
        self._steps = global_step

    def calibrate(self, total_steps: int) -> None:
        """Map the expected duration onto `total_steps` optimizer steps."""
        self.seconds_per_step = self.duration_s / max(1, total_steps)

    def wait_until(self, moment: datetime, what: str) -> float:
        """Jump to `moment` at once."""
        remaining_s = moment.timestamp() - self.now().timestamp()
        if remaining_s <= 0:
            return 0.0
        self._skipped_s += remaining_s
        return remaining_s
