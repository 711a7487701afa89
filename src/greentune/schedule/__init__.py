"""greentune.schedule — carbon-aware timing and placement (Flexible Start, Pause & Resume, region choice)."""

from greentune.schedule.flexible_start import best_start, flexible_start
from greentune.schedule.job import DEFAULT_POWER_W, Job, add_seconds, flexibility_s, parse_duration_s
from greentune.schedule.pause_resume import PauseRules, choose_slots, pause_resume
from greentune.schedule.placement import RegionChoice, compare_regions, plan_job
from greentune.schedule.plan import MODE_NAMES, Mode, Plan, Segment

__all__ = [
    "DEFAULT_POWER_W",
    "MODE_NAMES",
    "Job",
    "Mode",
    "PauseRules",
    "Plan",
    "RegionChoice",
    "Segment",
    "add_seconds",
    "best_start",
    "choose_slots",
    "compare_regions",
    "flexibility_s",
    "flexible_start",
    "parse_duration_s",
    "pause_resume",
    "plan_job",
]
