"""Region choice: where (and, with a series, when) a job emits least.

Each region is planned with its own intensity series when one exists, so the
ranking joins place and time: the first row is the best (region, start)
within the window. A region without a series is still ranked, at its annual
average intensity (`greentune.carbon.resolve_site`), and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from greentune.carbon import IntensitySeries, resolve_site
from greentune.schedule.fs import flexible_start
from greentune.schedule.job import Job
from greentune.schedule.plans import Mode, Plan
from greentune.schedule.pr import PauseRules, pause_resume


@dataclass(frozen=True)
class RegionChoice:
    """One region's best plan (`plan`, None without a series) and its emissions (g, × PUE)."""

    region: str
    emissions_gco2eq: float
    source: str
    plan: Plan | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready row."""
        row: dict[str, Any] = {
            "region": self.region,
            "emissions_gco2eq": self.emissions_gco2eq,
            "source": self.source,
            "series_backed": self.plan is not None,
        }
        if self.plan is not None:
            row.update(
                start=self.plan.start.isoformat(),
                savings_pct=self.plan.savings_pct,
                emissions_now_gco2eq=self.plan.emissions_now_gco2eq,
                pauses=self.plan.pauses,
                notes=list(self.plan.notes),  # e.g. the series' coverage flags, for every region, not just the best
            )
        if self.note:
            row["note"] = self.note
        return row


def plan_job(
    series: IntensitySeries, job: Job, mode: Mode, *, rules: PauseRules | None = None, pue: float = 1.0
) -> Plan:
    """Flexible Start (`fs`) or Pause & Resume (`pr`) for `job` on `series`."""
    if Mode(mode) is Mode.FS:  # Mode() also accepts the plain "fs" a caller may pass
        return flexible_start(series, job, pue=pue)
    return pause_resume(series, job, rules=rules, pue=pue)


def compare_regions(
    job: Job,
    regions: Sequence[str],
    series_for: Callable[[str], IntensitySeries | None],
    mode: Mode,
    *,
    rules: PauseRules | None = None,
    pue: float = 1.0,
) -> list[RegionChoice]:
    """Rank `regions` by the emissions of `job` planned in each, lowest first.

    `series_for(region)` returns the region's series, or None when there is
    none for the job's time (then its annual average is used).
    """
    choices = []
    for region in regions:
        series = series_for(region)
        if series is not None:
            plan = plan_job(series, job, mode, rules=rules, pue=pue)
            choices.append(RegionChoice(region, plan.emissions_gco2eq, plan.source, plan))
            continue
        site = resolve_site(region)
        energy_kwh = float(job.energy_per_slot_kwh(3600).sum())
        choices.append(
            RegionChoice(
                region,
                energy_kwh * site.intensity_gco2eq_per_kwh * pue,
                f"{site.intensity_source} ({site.intensity_year})",
                note="no intensity series for this time: annual average, so no timing gain",
            )
        )
    return sorted(choices, key=lambda choice: choice.emissions_gco2eq)
