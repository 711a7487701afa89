"""greentune.schedule — carbon-aware timing and placement (Flexible Start, Pause & Resume, region choice)."""

from greentune.schedule.flexible_start import best_start, flexible_start
from greentune.schedule.job import Job, parse_duration_s
from greentune.schedule.pause_resume import PauseRules, choose_slots, pause_resume
from greentune.schedule.placement import RegionChoice, compare_regions, plan_job
from greentune.schedule.plan import MODE_NAMES, Mode, Plan, Segment

__all__ = [
    "MODE_NAMES",
    "Job",
    "Mode",
    "PauseRules",
    "Plan",
    "RegionChoice",
    "Segment",
    "best_start",
    "choose_slots",
    "compare_regions",
    "flexible_start",
    "parse_duration_s",
    "pause_resume",
    "plan_job",
]
