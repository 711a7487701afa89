"""The project's lifecycle footprint: every record of the ledger added up by kind and status.

A model's footprint is every run that led to it (failed and killed ones too),
its searches, its inference benchmarks and its serving. `project_footprint`
sums the common `RunRecord` fields (energy_kwh, emissions_gco2eq,
embodied_gco2eq, cost_usd, storage_bytes) and never counts a job twice: a
sweep's parent record already holds its trials (energy = trials + idle), so a
trial whose parent is among the records is left out; a trial whose parent is
not (still running, or filtered away) counts under `sweep`.

Functional units (SCI = (O + M) / R, Green Software Foundation): per
fine-tuned model, R = the finished training runs outside sweeps plus the
finished sweeps, over the training footprint (train and sweep); per 1,000
summaries served, R = the `requests` of serving records, over the serving
footprint. With both known, `breakeven_summaries` is the number of summaries
after which serving has emitted more than training. Data preparation is the
`load` phase of each record (part of its total, shown on its own).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from pydantic import BaseModel, ConfigDict

from greentune.errors import GreentuneError
from greentune.ledger import RunKind, RunRecord

TRAINING_KINDS = (RunKind.TRAIN, RunKind.SWEEP)
DATA_PREPARATION_PHASE = "load"


class FootprintLine(BaseModel):
    """The sum of the records of one kind and status. Energy in kWh, emissions in gCO2eq, cost in USD.

    `cost_usd` and `storage_bytes` are None when no record in the line has one;
    `embodied_gco2eq` counts only the records that report it.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    status: str
    runs: int
    energy_kwh: float
    emissions_gco2eq: float
    embodied_gco2eq: float
    cost_usd: float | None
    storage_bytes: int | None

    @property
    def total_gco2eq(self) -> float:
        """Operational plus embodied emissions."""
        return self.emissions_gco2eq + self.embodied_gco2eq


class TimelinePoint(BaseModel):
    """The project's running totals when one job ended (ISO 8601, UTC): kWh, and gCO2eq operational,
    embodied and their sum. The last point's figures equal the footprint's total line."""

    model_config = ConfigDict(frozen=True)

    time: str
    run_name: str
    kind: str
    energy_kwh: float
    operational_gco2eq: float
    embodied_gco2eq: float
    total_gco2eq: float


class Footprint(BaseModel):
    """The lifecycle account of a set of records (see the module docstring for what each figure counts)."""

    model_config = ConfigDict(frozen=True)

    lines: list[FootprintLine]
    total: FootprintLine
    data_preparation_kwh: float
    training_gco2eq: float
    serving_gco2eq: float
    models: int
    sci_per_model_gco2eq: float | None
    summaries_served: int | None
    sci_per_1000_summaries_gco2eq: float | None
    breakeven_summaries: int | None
    timeline: list[TimelinePoint]
    notes: list[str]


def _line(kind: str, status: str, records: list[RunRecord]) -> FootprintLine:
    costs = [r.cost_usd for r in records if r.cost_usd is not None]
    storage = [r.storage_bytes for r in records if r.storage_bytes is not None]
    return FootprintLine(
        kind=kind,
        status=status,
        runs=len(records),
        energy_kwh=math.fsum(r.energy_kwh for r in records),
        emissions_gco2eq=math.fsum(r.emissions_gco2eq for r in records),
        embodied_gco2eq=math.fsum(r.embodied_gco2eq or 0.0 for r in records),
        cost_usd=math.fsum(costs) if costs else None,
        storage_bytes=sum(storage) if storage else None,
    )


def _group(record: RunRecord) -> str:
    return RunKind.SWEEP.value if record.parent_run_id is not None else RunKind(record.kind).value


def _total_gco2eq(record: RunRecord) -> float:
    return record.emissions_gco2eq + (record.embodied_gco2eq or 0.0)


def _start(record: RunRecord) -> datetime:
    start = datetime.fromisoformat(record.start_time)
    return (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)


def _end(record: RunRecord) -> datetime:
    return _start(record) + timedelta(seconds=record.duration_s)


def parse_since(text: str) -> datetime:
    """A --since date or time (ISO 8601; no zone means UTC) as an aware datetime."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise GreentuneError(
            f"--since must be an ISO date or time such as 2026-11-30 or 2026-11-30T08:00, got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def counted_records(records: list[RunRecord], since: datetime | None = None) -> list[RunRecord]:
    """The records a footprint sums: started at or after `since`, sweep trials left out where their parent is kept."""
    kept = [r for r in records if since is None or _start(r) >= since]
    ids = {r.run_id for r in kept}
    return [r for r in kept if r.parent_run_id is None or r.parent_run_id not in ids]


def project_footprint(records: list[RunRecord], since: datetime | None = None) -> Footprint:
    """The lifecycle footprint of `records` (from any experiments), by kind and status, with SCI per unit."""
    counted = counted_records(records, since)
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for record in counted:
        groups.setdefault((_group(record), str(record.status)), []).append(record)
    order = [kind.value for kind in RunKind]
    lines = [
        _line(kind, status, members)
        for (kind, status), members in sorted(groups.items(), key=lambda item: (order.index(item[0][0]), item[0][1]))
    ]
    total = _line("total", "all", counted)
    training = [r for r in counted if _group(r) in TRAINING_KINDS]
    serving = [r for r in counted if _group(r) == RunKind.SERVE]
    training_gco2eq = math.fsum(_total_gco2eq(r) for r in training)
    serving_gco2eq = math.fsum(_total_gco2eq(r) for r in serving)
    models = sum(1 for r in training if r.status == "FINISHED" and r.parent_run_id is None)
    known = [r.requests for r in serving if r.requests is not None]
    summaries = sum(known) if known else None
    notes: list[str] = []
    if serving and len(known) < len(serving):
        notes.append(
            f"{len(serving) - len(known)} serving record(s) have no request count; per-summary figures leave them out"
        )
    served_gco2eq = math.fsum(_total_gco2eq(r) for r in serving if r.requests is not None)
    per_summary = served_gco2eq / summaries if summaries else None
    breakeven = None
    if summaries and served_gco2eq > 0 and training_gco2eq > 0:
        # the smallest N with N × served_gco2eq / summaries > training_gco2eq
        breakeven = math.floor(training_gco2eq * summaries / served_gco2eq) + 1
    timeline: list[TimelinePoint] = []
    # exact running sums (Fraction), each rounded once like math.fsum: the last point equals the total line
    energy, operational, embodied = Fraction(0), Fraction(0), Fraction(0)
    for record in sorted(counted, key=_end):
        energy += Fraction(record.energy_kwh)
        operational += Fraction(record.emissions_gco2eq)
        embodied += Fraction(record.embodied_gco2eq or 0.0)
        timeline.append(
            TimelinePoint(
                time=_end(record).isoformat(),
                run_name=record.run_name,
                kind=_group(record),
                energy_kwh=float(energy),
                operational_gco2eq=float(operational),
                embodied_gco2eq=float(embodied),
                total_gco2eq=float(operational) + float(embodied),
            )
        )
    return Footprint(
        lines=lines,
        total=total,
        data_preparation_kwh=math.fsum(
            p.energy_kwh for r in counted for p in r.phases if p.name == DATA_PREPARATION_PHASE
        ),
        training_gco2eq=training_gco2eq,
        serving_gco2eq=serving_gco2eq,
        models=models,
        sci_per_model_gco2eq=training_gco2eq / models if models else None,
        summaries_served=summaries,
        sci_per_1000_summaries_gco2eq=per_summary * 1000.0 if per_summary is not None else None,
        breakeven_summaries=breakeven,
        timeline=timeline,
        notes=notes,
    )
