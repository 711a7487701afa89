"""Assemble a `Report`: everything the HTML, Markdown and JSON outputs show, computed once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from pydantic import BaseModel

from greentune.carbon import Equivalent
from greentune.errors import GreentuneError
from greentune.ledger import RunKind, RunRecord
from greentune.report import compare, metrics
from greentune.report.footprint import Footprint, project_footprint
from greentune.report.inference import InferenceRow, inference_rows
from greentune.report.load import choose_baseline, rouge_notes
from greentune.report.recommend import DEFAULT_ROUGE_TOLERANCE_POINTS, Verdict, recommendation, verdicts
from greentune.report.serving import ServingRow, serving_rows
from greentune.report.whatif import RegionWhatIf, emission_equivalents, region_whatif


class RunRow(BaseModel):
    """One line of the runs table."""

    run_id: str
    run_name: str
    label: str
    status: str
    start_time: str
    strategy: str
    model_name: str
    dataset_name: str
    hardware: str
    location: str
    rouge: dict[str, float | None]
    duration_s: float
    energy_kwh: float
    energy_source: str
    energy_by_component_kwh: dict[str, float]
    component_sources: dict[str, str]
    energy_by_phase_kwh: dict[str, float]
    emissions_gco2eq: float
    emissions_method: str = ""
    cost_usd: float | None
    samples_per_s: float | None
    tokens_per_s: float | None
    peak_ram_bytes: int | None
    peak_vram_bytes: int | None
    storage_bytes: int | None
    artifact_dir: str | None
    rouge1_by_epoch: list[tuple[float, float]]
    notes: list[str]
    is_baseline: bool
    pareto_emissions: bool | None
    pareto_cost: bool | None


class Report(BaseModel):
    """The whole comparison, ready to render."""

    title: str
    generated_at: str
    experiments: list[str]
    baseline_run_id: str | None
    baseline_run_name: str | None
    rouge_tolerance_points: float
    runs: list[RunRow]
    deltas: list[compare.RunDelta]
    verdicts: list[Verdict]
    recommendation: str
    whatif: RegionWhatIf | None
    equivalents: list[Equivalent]
    total_energy_kwh: float
    total_emissions_gco2eq: float
    notes: list[str]
    inference: list[InferenceRow] = []
    serving: list[ServingRow] = []
    footprint: Footprint | None = None


def build_report(
    records: list[RunRecord],
    baseline: str | None = None,
    notes: list[str] | None = None,
    rouge_tolerance_points: float = DEFAULT_ROUGE_TOLERANCE_POINTS,
) -> Report:
    """Compare `records` against the baseline run (id or name; a sensible default when None).

    Inference benchmarks (kind `infer`), serving sessions (kind `serve`) and sweep parents (kind `sweep`,
    whose energy is their trials' plus idle time) get their own sections instead of rows among the runs;
    the footprint section counts every record (`project_footprint`, as `greentune footprint` does).
    """
    inference = inference_rows(records)
    serving = serving_rows(records)
    footprint = project_footprint(records) if records else None
    records = [record for record in records if record.kind not in (RunKind.INFER, RunKind.SERVE, RunKind.SWEEP)]
    all_notes = list(notes or [])
    base, baseline_notes = choose_baseline(records, baseline)
    all_notes += baseline_notes + rouge_notes(records) + method_notes(records)

    front_emissions = compare.pareto_front(records, compare.rouge1, compare.emissions_gco2eq)
    front_cost = compare.pareto_front(records, compare.rouge1, compare.cost_usd)
    found = verdicts(records, base, rouge_tolerance_points)
    total_emissions = sum(r.emissions_gco2eq for r in records)
    whatif, equivalents = _carbon_context(records, total_emissions, all_notes)
    return Report(
        title=_title(records),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        experiments=sorted({r.experiment for r in records}),
        baseline_run_id=base.run_id if base else None,
        baseline_run_name=base.run_name if base else None,
        rouge_tolerance_points=rouge_tolerance_points,
        runs=_rows(records, base, front_emissions, front_cost),
        deltas=[compare.delta(r, base) for r in records if base and r.run_id != base.run_id and metrics.has_rouge(r)],
        verdicts=found,
        recommendation=recommendation(found, base),
        whatif=whatif,
        equivalents=equivalents,
        total_energy_kwh=sum(r.energy_kwh for r in records),
        total_emissions_gco2eq=total_emissions,
        notes=all_notes,
        inference=inference,
        serving=serving,
        footprint=footprint,
    )


def _rows(
    records: list[RunRecord], base: RunRecord | None, front_emissions: set[str], front_cost: set[str]
) -> list[RunRow]:
    name_counts = Counter(r.run_name for r in records)
    return [
        RunRow(
            run_id=r.run_id,
            run_name=r.run_name,
            label=r.run_name if name_counts[r.run_name] == 1 else f"{r.run_name} ({r.run_id[:6]})",
            status=r.status,
            start_time=r.start_time,
            strategy=metrics.strategy_summary(r, base),
            model_name=r.model_name,
            dataset_name=r.dataset_name,
            hardware=r.hardware,
            location=r.location,
            rouge={key: metrics.rouge_points(r, key) for key in metrics.ROUGE_KEYS},
            duration_s=r.duration_s,
            energy_kwh=r.energy_kwh,
            energy_source=r.energy_source,
            energy_by_component_kwh=metrics.energy_by_component_kwh(r),
            component_sources=metrics.component_sources(r),
            energy_by_phase_kwh=metrics.energy_by_phase_kwh(r),
            emissions_gco2eq=r.emissions_gco2eq,
            emissions_method=r.emissions_method,
            cost_usd=r.cost_usd,
            samples_per_s=r.samples_per_s,
            tokens_per_s=r.tokens_per_s,
            peak_ram_bytes=r.peak_ram_bytes,
            peak_vram_bytes=r.peak_vram_bytes,
            storage_bytes=r.storage_bytes,
            artifact_dir=r.artifact_dir,
            rouge1_by_epoch=[
                (entry["epoch"], entry["rouge1"]) for entry in r.eval_history if "epoch" in entry and "rouge1" in entry
            ],
            notes=list(r.notes),
            is_baseline=base is not None and r.run_id == base.run_id,
            pareto_emissions=(r.run_id in front_emissions) if metrics.has_rouge(r) else None,
            pareto_cost=(r.run_id in front_cost) if metrics.has_rouge(r) and r.cost_usd is not None else None,
        )
        for r in records
    ]


def method_notes(records: list[RunRecord]) -> list[str]:
    """Say which runs' emissions are time-resolved, and set marginal figures apart from average ones."""
    notes = []
    timed = [r.run_name for r in records if r.is_time_resolved]
    if timed and len(timed) < len(records):
        notes.append(
            f"Emissions of {', '.join(timed)} are time-resolved (the run's energy timeline on an intensity series); "
            "the other runs and the region what-if use annual averages."
        )
    marginal = [r.run_name for r in records if r.intensity_kind == "marginal"]
    if marginal and len(marginal) < len(records):
        notes.append(
            f"Emissions of {', '.join(marginal)} are marginal (what the marginal generator emitted, e.g. WattTime): "
            "not comparable with the average-intensity figures of the other runs, though the table and plots show both."
        )
    return notes


def _carbon_context(
    records: list[RunRecord], total_emissions: float, notes: list[str]
) -> tuple[RegionWhatIf | None, list[Equivalent]]:
    """Region what-if and equivalents; a problem in the carbon tables becomes a note, not a failure."""
    if not records:
        return None, []
    try:
        return region_whatif(records), emission_equivalents(total_emissions)
    except GreentuneError as error:
        notes.append(f"Region what-if and equivalents unavailable: {error}")
        return None, []


def _title(records: list[RunRecord]) -> str:
    experiments = sorted({r.experiment for r in records})
    if not experiments:
        return "greentune report"
    return f"greentune report: {', '.join(experiments)}"
