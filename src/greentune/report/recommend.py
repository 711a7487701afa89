"""The recommendation paragraph: which strategies to keep, what each saves, what it costs in ROUGE.

Every sentence is computed from the runs; the only judgement call is the
ROUGE-1 tolerance (points a user accepts to lose for a saving), a parameter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from greentune.ledger import RunRecord
from greentune.report.compare import delta
from greentune.report.metrics import has_rouge, strategy_summary

DEFAULT_ROUGE_TOLERANCE_POINTS = 1.0

Decision = Literal["keep", "trade-off", "drop"]
DECISION_ORDER: tuple[Decision, ...] = ("keep", "trade-off", "drop")


class Verdict(BaseModel):
    """What one strategy run does against the baseline, and what to do with it."""

    run_id: str
    run_name: str
    strategy: str
    decision: Decision
    energy_change_pct: float | None
    emissions_change_gco2eq: float
    cost_change_usd: float | None
    rouge1_change_points: float
    sentence: str


def verdicts(
    records: list[RunRecord],
    baseline: RunRecord | None,
    rouge_tolerance_points: float = DEFAULT_ROUGE_TOLERANCE_POINTS,
) -> list[Verdict]:
    """One verdict per run with ROUGE other than the baseline: keeps first, then trade-offs, then drops."""
    if baseline is None:
        return []
    found = [
        _verdict(record, baseline, rouge_tolerance_points)
        for record in records
        if record.run_id != baseline.run_id and has_rouge(record)
    ]
    return sorted(found, key=lambda v: (DECISION_ORDER.index(v.decision), v.emissions_change_gco2eq))


def _verdict(record: RunRecord, baseline: RunRecord, tolerance: float) -> Verdict:
    change = delta(record, baseline)
    rouge1_change = change.rouge_points["rouge1"] or 0.0
    energy_pct = change.energy_pct
    emissions_change = record.emissions_gco2eq - baseline.emissions_gco2eq
    cost_change = None if record.cost_usd is None or baseline.cost_usd is None else record.cost_usd - baseline.cost_usd
    saves = emissions_change < 0
    strategy = strategy_summary(record, baseline)
    what = record.run_name if strategy == record.run_name else f"{record.run_name} ({strategy})"
    footprint = _footprint_phrase(energy_pct, emissions_change, cost_change)
    rouge = _rouge_phrase(rouge1_change)
    if saves and rouge1_change >= -tolerance:
        decision: Decision = "keep"
        sentence = f"Keep {what}: it {footprint}, {rouge}."
    elif saves:
        decision = "trade-off"
        sentence = (
            f"{what} {footprint} but loses {-rouge1_change:.1f} ROUGE-1 points, more than the "
            f"{tolerance:g}-point tolerance: keep it only where that loss is acceptable."
        )
    elif rouge1_change > tolerance:
        decision = "trade-off"
        sentence = f"{what} {footprint}, {rouge}: worth it where quality matters more than footprint."
    else:
        decision = "drop"
        sentence = f"Drop {what}: it {footprint}, {rouge}."
    saved_kwh = record.early_stopping_saved_kwh
    if saved_kwh and record.epochs_run is not None and record.epochs_budget:
        sentence += (
            f" Early stopping ended it after {record.epochs_run:g} of {record.epochs_budget:g} epochs, "
            f"leaving an estimated {saved_kwh:.3g} kWh unspent."
        )
    return Verdict(
        run_id=record.run_id,
        run_name=record.run_name,
        strategy=strategy,
        decision=decision,
        energy_change_pct=energy_pct,
        emissions_change_gco2eq=emissions_change,
        cost_change_usd=cost_change,
        rouge1_change_points=rouge1_change,
        sentence=sentence,
    )


def _rouge_phrase(change_points: float) -> str:
    if round(change_points, 1) == 0:
        return "with no change in ROUGE-1"
    verb = "gaining" if change_points > 0 else "losing"
    return f"{verb} {abs(change_points):.1f} ROUGE-1 points"


def _footprint_phrase(energy_pct: float | None, emissions_change: float, cost_change: float | None) -> str:
    verb = "saves" if emissions_change < 0 else "adds"
    parts = []
    if energy_pct is not None:
        parts.append(f"{abs(energy_pct):.0f}% energy")
    parts.append(f"{abs(emissions_change):.3g} gCO2eq")
    if cost_change is not None:
        parts.append(f"${abs(cost_change):.3g}")
    return f"{verb} {', '.join(parts)}"


def recommendation(verdicts_: list[Verdict], baseline: RunRecord | None) -> str:
    """The paragraph: the baseline, one sentence per strategy, then what to keep."""
    if baseline is None:
        return "No run has ROUGE scores yet, so there is nothing to recommend."
    if not verdicts_:
        return f"Only the baseline {baseline.run_name} has ROUGE scores: run a strategy to compare against it."
    opening = (
        f"Against the baseline run '{baseline.run_name}' ({baseline.energy_kwh:.3g} kWh, "
        f"{baseline.emissions_gco2eq:.3g} gCO2eq, {baseline.energy_source} energy):"
    )
    kept = list(dict.fromkeys(v.run_name for v in verdicts_ if v.decision == "keep"))
    closing = (
        f"Strategies worth keeping: {', '.join(kept)}."
        if kept
        else "No strategy saved carbon within the ROUGE tolerance; keep the baseline settings."
    )
    return " ".join([opening, *(v.sentence for v in verdicts_), closing])
