"""greentune.schedule — carbon-aware timing and placement (Flexible Start, Pause & Resume, region choice).

Names load on first use (PEP 562), so that the CLI can declare its options with
the light `choices` enums without importing numpy and the series loaders.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {
    "DEFAULT_POWER_W": "job",
    "Job": "job",
    "add_seconds": "job",
    "flexibility_s": "job",
    "parse_duration_s": "job",
    "best_start": "fs",
    "flexible_start": "fs",
    "PauseRules": "pr",
    "choose_slots": "pr",
    "pause_resume": "pr",
    "RegionChoice": "placement",
    "compare_regions": "placement",
    "plan_job": "placement",
    "ClockKind": "choices",
    "Mode": "choices",
    "SourceKind": "choices",
    "Plan": "plans",
    "Segment": "plans",
    "PlanRequest": "request",
    "PlanResult": "request",
    "plan": "request",
    "series_end_for": "request",
    "Source": "sources",
}

__all__ = [
    "DEFAULT_POWER_W",
    "ClockKind",
    "Job",
    "Mode",
    "PauseRules",
    "Plan",
    "PlanRequest",
    "PlanResult",
    "RegionChoice",
    "Segment",
    "Source",
    "SourceKind",
    "add_seconds",
    "best_start",
    "choose_slots",
    "compare_regions",
    "flexibility_s",
    "flexible_start",
    "parse_duration_s",
    "pause_resume",
    "plan",
    "plan_job",
    "series_end_for",
]

if TYPE_CHECKING:
    from greentune.schedule.choices import ClockKind, Mode, SourceKind
    from greentune.schedule.fs import best_start, flexible_start
    from greentune.schedule.job import DEFAULT_POWER_W, Job, add_seconds, flexibility_s, parse_duration_s
    from greentune.schedule.placement import RegionChoice, compare_regions, plan_job
    from greentune.schedule.plans import Plan, Segment
    from greentune.schedule.pr import PauseRules, choose_slots, pause_resume
    from greentune.schedule.request import PlanRequest, PlanResult, plan, series_end_for
    from greentune.schedule.sources import Source


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'greentune.schedule' has no attribute {name!r}")
    return getattr(importlib.import_module(f"greentune.schedule.{_HOMES[name]}"), name)
