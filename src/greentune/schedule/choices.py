"""The choices of a plan as `StrEnum`s (mode, clock, source kind); stdlib only, so the CLI can declare options with them."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How a job is moved in time: Flexible Start (one delayed run) or Pause & Resume (the cleanest slots)."""

    FS = "fs"
    PR = "pr"

    @property
    def long_name(self) -> str:
        """The planner's name as Dodge et al. (2022) write it."""
        return "Flexible Start" if self is Mode.FS else "Pause & Resume"


class ClockKind(StrEnum):
    """The clock a plan is followed on: the wall clock, or simulated time that replays history."""

    REAL = "real"
    SIMULATED = "simulated"


class SourceKind(StrEnum):
    """Where an intensity series comes from."""

    ENTSOE = "entsoe"
    CSV = "csv"
    ELECTRICITYMAPS = "electricitymaps"
    WATTTIME = "watttime"
