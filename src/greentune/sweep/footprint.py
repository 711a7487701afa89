"""The footprint of a whole search (pure): totals, idle time, waste, energy-to-target, the best configuration's cost.

- total = the trials' own records + idle, where idle is what the sweep's meter
  measured while no trial's run window was open (Ray and worker start-up, gaps
  between trials: a reserved machine sits idle then, and the sweep pays).
- wasted = trials thrown away: pruned, exploited, failed, stopped (a PBT
  pause is not waste: the trial resumes from its own checkpoint).
- energy-to-target: the trials' energy, in start order, until a trial first
  reported ROUGE-1 ≥ target (trials started before it in full, plus its own
  energy up to that evaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from greentune.ledger import RunRecord, SweepBudget, SweepFootprint, SweepTrial, TrialStatus

_KEPT = (TrialStatus.FINISHED, TrialStatus.PAUSED)


@dataclass(frozen=True)
class Interval:
    """A span of wall-clock time, Unix seconds."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class CounterPoint:
    """A meter sample: wall-clock time (Unix s) and cumulative energy of every component (J)."""

    t_unix_s: float
    energy_j: float


@dataclass(frozen=True)
class Idle:
    """Time and energy while no trial ran."""

    duration_s: float
    energy_kwh: float


def idle_between(points: Sequence[CounterPoint], busy: Sequence[Interval], span: Interval) -> Idle:
    """Time in `span` not covered by any `busy` interval, and the energy the counter rose by in it (interpolated)."""
    gaps = _gaps(sorted(busy, key=lambda i: i.start_s), span)
    duration = sum(gap.end_s - gap.start_s for gap in gaps)
    energy_j = sum(_counter_at(points, gap.end_s) - _counter_at(points, gap.start_s) for gap in gaps)
    return Idle(duration_s=duration, energy_kwh=max(0.0, energy_j) / 3.6e6)


def _gaps(busy: Sequence[Interval], span: Interval) -> list[Interval]:
    gaps, cursor = [], span.start_s
    for interval in busy:
        start, end = max(interval.start_s, span.start_s), min(interval.end_s, span.end_s)
        if end <= start:
            continue
        if start > cursor:
            gaps.append(Interval(cursor, start))
        cursor = max(cursor, end)
    if span.end_s > cursor:
        gaps.append(Interval(cursor, span.end_s))
    return gaps


def _counter_at(points: Sequence[CounterPoint], t_s: float) -> float:
    """Cumulative energy at `t_s`, linear between samples, held flat outside them."""
    if not points:
        return 0.0
    if t_s <= points[0].t_unix_s:
        return points[0].energy_j
    for before, after in pairwise(points):
        if before.t_unix_s <= t_s <= after.t_unix_s:
            width = after.t_unix_s - before.t_unix_s
            share = (t_s - before.t_unix_s) / width if width > 0 else 1.0
            return before.energy_j + share * (after.energy_j - before.energy_j)
    return points[-1].energy_j


@dataclass(frozen=True)
class FootprintRequest:
    """What the footprint is computed from."""

    algorithm: str
    scheduler: str
    metric: str
    trials: Sequence[RunRecord]
    idle: Idle
    target_rouge1: float | None
    budgets: Sequence[SweepBudget] = ()


def sweep_footprint(request: FootprintRequest) -> SweepFootprint:
    """The parent record's sweep section from its child records."""
    trials = sorted(request.trials, key=lambda record: record.start_time)
    trials_kwh = sum(record.energy_kwh for record in trials)
    total_kwh = trials_kwh + request.idle.energy_kwh
    wasted_kwh = sum(
        record.energy_kwh for record in trials if record.trial is not None and record.trial.status not in _KEPT
    )
    best = _best(trials, request.metric)
    return SweepFootprint(
        algorithm=request.algorithm,
        scheduler=request.scheduler,
        trials=[_listed(record) for record in trials],
        trials_kwh=trials_kwh,
        idle_kwh=request.idle.energy_kwh,
        idle_s=request.idle.duration_s,
        wasted_kwh=wasted_kwh,
        wasted_share=wasted_kwh / total_kwh if total_kwh > 0 else 0.0,
        target_rouge1=request.target_rouge1,
        energy_to_target_kwh=energy_to_target(trials, request.target_rouge1),
        best_run_id=best.run_id if best else None,
        best_config=best.trial.config if best and best.trial else {},
        best_rouge1=best.rouge.get("rouge1") if best else None,
        best_energy_kwh=best.energy_kwh if best else None,
        best_emissions_gco2eq=best.emissions_gco2eq if best else None,
        best_cost_usd=best.cost_usd if best else None,
        budgets=list(request.budgets),
    )


def energy_to_target(trials: Sequence[RunRecord], target_rouge1: float | None) -> float | None:
    """kWh until a trial first reported ROUGE-1 ≥ target; `trials` in start order; None if none did."""
    if target_rouge1 is None:
        return None
    before = 0.0
    for record in trials:
        reports = record.trial.reports if record.trial is not None else []
        reached = next((r for r in reports if r.rouge1 is not None and r.rouge1 >= target_rouge1), None)
        if reached is not None:
            return before + reached.energy_kwh
        before += record.energy_kwh
    return None


def _best(trials: Sequence[RunRecord], metric: str) -> RunRecord | None:
    """The trial with the best final validation metric (ROUGE-1 highest, or eval loss lowest) that did not fail."""
    scored: list[tuple[float, RunRecord]] = []
    for record in trials:
        if record.trial is None or record.trial.status is TrialStatus.FAILED or not record.eval_history:
            continue
        value = record.eval_history[-1].get(metric)
        if value is not None:
            scored.append((value if metric == "rouge1" else -value, record))
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


def _listed(record: RunRecord) -> SweepTrial:
    trial = record.trial
    assert trial is not None
    return SweepTrial(
        run_id=record.run_id,
        trial_id=trial.trial_id,
        segment=trial.segment,
        status=trial.status,
        energy_kwh=record.energy_kwh,
        emissions_gco2eq=record.emissions_gco2eq,
        cost_usd=record.cost_usd,
        rouge1=record.rouge.get("rouge1"),
        config=trial.config,
        donor_trial_id=trial.donor_trial_id,
    )


def footprint_lines(record: RunRecord) -> list[str]:
    """A sweep record's footprint in a few lines for the terminal (empty for other records)."""
    sweep = record.sweep
    if sweep is None:
        return []
    counts: dict[str, int] = {}
    for trial in sweep.trials:
        counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
    statuses = ", ".join(f"{count} {status}" for status, count in counts.items()) or "no trials"
    cost = f", ${record.cost_usd:.3g}" if record.cost_usd is not None else ""
    lines = [
        f"sweep {record.run_name} ({sweep.algorithm} + {sweep.scheduler}): {len(sweep.trials)} trial runs ({statuses}); "
        f"total {record.energy_kwh:.3g} kWh = trials {sweep.trials_kwh:.3g} + idle {sweep.idle_kwh:.3g} "
        f"({sweep.idle_s:.0f} s with no trial running), {record.emissions_gco2eq:.3g} gCO2eq{cost}",
        f"  wasted on trials thrown away: {sweep.wasted_kwh:.3g} kWh ({sweep.wasted_share * 100:.1f} % of the total)",
    ]
    if sweep.target_rouge1 is not None:
        reached = (
            f"{sweep.energy_to_target_kwh:.3g} kWh"
            if sweep.energy_to_target_kwh is not None
            else "not reached by any trial"
        )
        lines.append(f"  energy to ROUGE-1 ≥ {sweep.target_rouge1:g}: {reached}")
    if sweep.best_run_id is not None and sweep.best_energy_kwh is not None:
        rouge = f"ROUGE-1 {sweep.best_rouge1:.1f}, " if sweep.best_rouge1 is not None else ""
        config = ", ".join(f"{key}={value}" for key, value in sweep.best_config.items())
        lines.append(
            f"  best configuration ({config}): {rouge}{sweep.best_energy_kwh:.3g} kWh alone, "
            f"{sweep.best_energy_kwh / record.energy_kwh * 100 if record.energy_kwh else 0:.1f} % of the search"
        )
    for budget in sweep.budgets:
        state = "reached" if budget.reached else "not reached"
        lines.append(
            f"  budget {budget.limit:g} {budget.unit}: {state} (trials spent {budget.spent:.3g}); "
            f"{budget.trials_stopped} running trial(s) stopped, {budget.trials_not_launched} not launched"
        )
    return lines
