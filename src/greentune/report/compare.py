"""Pure comparisons between runs: deltas against a baseline and Pareto fronts.

Hand-written rather than taken from a library: a Pareto front of a handful of
runs over two objectives is a few lines, and a dependency for it would weigh
more than the code.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from greentune.ledger import RunRecord
from greentune.report.metrics import ROUGE_KEYS, rouge_points


class RunDelta(BaseModel):
    """One run against the baseline: relative change in %, ROUGE change in points."""

    run_id: str
    run_name: str
    duration_pct: float | None
    energy_pct: float | None
    emissions_pct: float | None
    cost_pct: float | None
    rouge_points: dict[str, float | None]


def percent_change(value: float | None, reference: float | None) -> float | None:
    """(value − reference) ÷ reference in %, or None when either is missing or the reference is 0."""
    if value is None or reference is None or reference == 0:
        return None
    return (value - reference) / reference * 100.0


def point_change(value: float | None, reference: float | None) -> float | None:
    """value − reference, or None when either is missing."""
    if value is None or reference is None:
        return None
    return value - reference


def delta(record: RunRecord, baseline: RunRecord) -> RunDelta:
    """How `record` differs from `baseline`."""
    return RunDelta(
        run_id=record.run_id,
        run_name=record.run_name,
        duration_pct=percent_change(record.duration_s, baseline.duration_s),
        energy_pct=percent_change(record.energy_kwh, baseline.energy_kwh),
        emissions_pct=percent_change(record.emissions_gco2eq, baseline.emissions_gco2eq),
        cost_pct=percent_change(record.cost_usd, baseline.cost_usd),
        rouge_points={key: point_change(rouge_points(record, key), rouge_points(baseline, key)) for key in ROUGE_KEYS},
    )


def pareto_front(
    records: list[RunRecord],
    quality: Callable[[RunRecord], float | None],
    cost: Callable[[RunRecord], float | None],
) -> set[str]:
    """Run ids not dominated on (higher quality, lower cost); runs missing either value are left out.

    A run is dominated when another is at least as good on both axes and
    strictly better on one.
    """
    points = {
        record.run_id: (q, c)
        for record in records
        if (q := quality(record)) is not None and (c := cost(record)) is not None
    }
    return {
        run_id
        for run_id, (q, c) in points.items()
        if not any(
            (other_q >= q and other_c <= c) and (other_q > q or other_c < c) for other_q, other_c in points.values()
        )
    }


def rouge1(record: RunRecord) -> float | None:
    """Validation ROUGE-1 in points."""
    return rouge_points(record, "rouge1")


def emissions_gco2eq(record: RunRecord) -> float | None:
    """Operational emissions in gCO2eq."""
    return record.emissions_gco2eq


def cost_usd(record: RunRecord) -> float | None:
    """Money cost in US$, None when no price applies."""
    return record.cost_usd
