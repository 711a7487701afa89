"""The inference benchmark: a grid of backend × precision × batch size × beams × device, each in its own meter window.

For each configuration: load (and export or convert) outside any window, warm
up on one batch, then summarize the samples in batches inside a meter window
named after the configuration. J/summary = the window's energy ÷ summaries;
latency = wall time of each generate call (one batch). Quality: ROUGE against
the data set's reference summaries, and its change against the eager fp32
reference of the same workload (same batch size, beams, device), which the
grid always runs; exact-match share = summaries identical to the reference's.
Each configuration that ran becomes a ledger record of kind `infer` as soon
as it ends (an interrupted benchmark keeps what it finished).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from greentune.errors import GreentuneError
from greentune.infer.recommend import JOULES_PER_KWH, Recommendation, recommend
from greentune.infer.rows import BenchConfig, BenchRow, Split
from greentune.infer.summarizer import Backend, GenerationSettings, Precision, UnsupportedConfiguration, load_summarizer
from greentune.meter import Scope
from greentune.paths import make_owned_dir

# what the grid tries per backend and device kind when no precision is named; the first is the backend's default
GRID_PRECISIONS: dict[Backend, dict[str, tuple[Precision, ...]]] = {
    Backend.EAGER: {"cpu": (Precision.FP32,), "cuda": (Precision.FP32, Precision.FP16, Precision.BF16)},
    Backend.INT8: {"cpu": (Precision.INT8,), "cuda": (Precision.INT8,)},
    Backend.ONNX: {"cpu": (Precision.FP32, Precision.INT8), "cuda": (Precision.FP32,)},
    Backend.CT2: {"cpu": (Precision.INT8, Precision.FP32), "cuda": (Precision.INT8_FP16, Precision.FP16)},
}
REFERENCE = (Backend.EAGER, Precision.FP32)


@dataclass(frozen=True)
class BenchRequest:
    """What to benchmark and where to account and record it."""

    model: str
    samples: int = 50
    dataset: str = "aclsum"
    split: Split = Split.VALIDATION
    backends: tuple[Backend, ...] = tuple(Backend)
    precisions: tuple[Precision, ...] = ()
    batch_sizes: tuple[int, ...] = (1, 16)
    beams: tuple[int, ...] = (1,)
    devices: tuple[str, ...] = ("cpu",)
    max_new_tokens: int = 64
    max_input_tokens: int = 512
    latency_budget_ms: float | None = None
    location: str | None = None
    pue: float | None = None
    sku: str | None = None
    prices: str | None = None
    meter_scope: Scope = Scope.MACHINE
    record: bool = True
    tracking_uri: str | None = None
    experiment: str = "bench-infer"
    runs_dir: Path = Path("greentune-runs")


@dataclass(frozen=True)
class BenchResult:
    """Every row (reference first within each workload), the recommendation, and notes."""

    model: str
    dataset: str
    split: str
    samples: int
    rows: list[BenchRow]
    recommendation: Recommendation
    hardware: str
    meter_scope: str
    artifact_dir: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one dict per row, the recommendation line and its savings."""
        recommendation = self.recommendation
        savings = recommendation.savings
        return {
            "model": self.model,
            "dataset": self.dataset,
            "split": str(self.split),
            "samples": self.samples,
            "hardware": self.hardware,
            "meter_scope": self.meter_scope,
            "artifact_dir": self.artifact_dir,
            "rows": [row.to_dict() for row in self.rows],
            "recommendation": {
                "line": recommendation.line,
                "choice": recommendation.choice.config.label if recommendation.choice else None,
                "latency_budget_ms": recommendation.latency_budget_ms,
                "cpu_meets_budget": recommendation.cpu_meets_budget,
                "location": recommendation.location,
                "savings": None
                if savings is None
                else {
                    "kwh_per_1000": savings.kwh_per_1000,
                    "gco2eq_per_1000": savings.gco2eq_per_1000,
                    "usd_per_1000": savings.usd_per_1000,
                    "kwh_per_million": savings.kwh_per_million,
                    "gco2eq_per_million": savings.gco2eq_per_million,
                    "usd_per_million": savings.usd_per_million,
                },
            },
            "notes": self.notes,
        }


Progress = Callable[[str, int, int], None]  # (configuration label, summaries done, summaries in total)


def plan_grid(request: BenchRequest) -> list[BenchConfig]:
    """The configurations to run, the eager fp32 reference first for every (device, beams, batch size)."""
    _check(request)
    grid: list[BenchConfig] = []
    for device in request.devices:
        kind = "cuda" if device.startswith("cuda") else "cpu"
        for beams in request.beams:
            for batch_size in request.batch_sizes:
                grid.append(BenchConfig(*REFERENCE, batch_size, beams, device))
                for backend in request.backends:
                    precisions = request.precisions or GRID_PRECISIONS[backend][kind]
                    for precision in precisions:
                        config = BenchConfig(backend, precision, batch_size, beams, device)
                        if config not in grid:
                            grid.append(config)
    return grid


def run_bench(request: BenchRequest, progress: Progress | None = None) -> BenchResult:
    """Run the grid; returns the rows and the recommendation (records written to the ledger as it goes)."""
    from greentune.carbon import resolve_site
    from greentune.ledger import check_ledger
    from greentune.meter import Meter
    from greentune.models import resolve_model

    grid = plan_grid(request)
    model = resolve_model(request.model, request.tracking_uri).location  # a bad name fails before data or meter
    site = resolve_site(request.location, pue=request.pue, sku=request.sku, prices=request.prices)
    if request.record:
        check_ledger(request.tracking_uri)  # a broken ledger fails now, not after the first configuration
    sources, references = _load_data(request)
    started = datetime.now(UTC)
    artifact_dir = make_owned_dir(
        request.runs_dir / "runs" / f"{started:%Y%m%dT%H%M%S}-bench-infer-{uuid.uuid4().hex[:6]}"
    )
    rows: list[BenchRow] = []
    outputs: dict[BenchConfig, list[str]] = {}
    with Meter(log_path=artifact_dir / "meter.jsonl", scope=request.meter_scope) as meter:
        hardware = _hardware(meter.hardware, request.devices)
        for loaded_key, configs in _group_by_load(grid).items():
            backend, precision, device = loaded_key
            try:
                summarizer: Any = load_summarizer(
                    model,
                    backend,
                    GenerationSettings(
                        max_new_tokens=request.max_new_tokens,
                        max_input_tokens=request.max_input_tokens,
                        precision=precision,
                    ),
                    device,
                )
            except UnsupportedConfiguration as error:
                rows += [BenchRow(config, reason=error.reason) for config in configs]
                continue
            for config in configs:
                summarizer.settings = replace(summarizer.settings, num_beams=config.num_beams)
                try:
                    row, texts = _measure(meter, summarizer, config, sources, progress)
                except Exception as error:  # a backend that breaks mid-run is a row with its reason, not a crash
                    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    rows.append(
                        BenchRow(config, reason=f"failed while summarizing: {type(error).__name__}: {first_line}")
                    )
                    continue
                outputs[config] = texts
                row = _with_quality(row, texts, references, outputs)
                if request.record:
                    row = _record(row, request, site, hardware, artifact_dir, started)
                rows.append(row)
            del summarizer
            gc.collect()
    ordered = sorted(rows, key=lambda row: grid.index(row.config))
    notes = _notes(request, site)
    return BenchResult(
        model=request.model,
        dataset=request.dataset,
        split=request.split,
        samples=len(sources),
        rows=ordered,
        recommendation=recommend(ordered, site, request.latency_budget_ms),
        hardware=hardware,
        meter_scope=request.meter_scope,
        artifact_dir=str(artifact_dir.resolve()),
        notes=notes,
    )


def _check(request: BenchRequest) -> None:
    if request.samples < 1:
        raise GreentuneError(f"--samples must be ≥ 1, got {request.samples}")
    for name, values in (("--batch-size", request.batch_sizes), ("--beams", request.beams)):
        if not values or any(value < 1 for value in values):
            raise GreentuneError(f"{name} takes whole numbers ≥ 1, got {list(values)}")
    if request.latency_budget_ms is not None and not request.latency_budget_ms > 0:
        raise GreentuneError(f"--latency-budget-ms must be > 0, got {request.latency_budget_ms}")
    if not request.backends:
        raise GreentuneError("name at least one --backend")
    for device in request.devices:
        if device != "cpu" and not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
            raise GreentuneError(f"--device takes cpu, cuda or cuda:N, got '{device}'")


def _load_data(request: BenchRequest) -> tuple[list[str], list[str]]:
    from greentune.finetune.data import load_splits
    from greentune.finetune.spec import DataConfig

    try:
        config = DataConfig.model_validate(
            {"name": request.dataset, "max_eval_samples": request.samples, "max_test_samples": request.samples}
        )
    except ValueError as error:
        raise GreentuneError(f"bad data set '{request.dataset}': {str(error).splitlines()[0]}") from None
    splits = load_splits(config)
    split = splits.validation if request.split is Split.VALIDATION else splits.test
    if split is None or len(split) == 0:
        raise GreentuneError(f"data set '{request.dataset}' has no {request.split} examples")
    return split.sources, split.targets


def _group_by_load(grid: list[BenchConfig]) -> dict[tuple[Backend, Precision, str], list[BenchConfig]]:
    """Configurations that share one loaded model (backend, precision, device), in grid order."""
    groups: dict[tuple[Backend, Precision, str], list[BenchConfig]] = {}
    for config in grid:
        groups.setdefault((config.backend, config.precision, config.device), []).append(config)
    return groups


def _measure(
    meter: Any, summarizer: Any, config: BenchConfig, sources: list[str], progress: Progress | None
) -> tuple[BenchRow, list[str]]:
    """Warm up on one batch, then every sample in batches inside the configuration's meter window."""
    import numpy as np

    batches = [sources[start : start + config.batch_size] for start in range(0, len(sources), config.batch_size)]
    summarizer.summarize(batches[0])  # warm-up: first-call allocations and lazy initialisation stay out of the window
    texts: list[str] = []
    latencies_ms: list[float] = []
    if progress is not None:
        progress(config.label, 0, len(sources))
    with meter.window(f"infer {config.label}") as window:
        for batch in batches:
            begin = time.perf_counter()
            summaries = summarizer.summarize(batch)
            latencies_ms.append((time.perf_counter() - begin) * 1000)
            texts += [summary.text for summary in summaries]
            if progress is not None:
                progress(config.label, len(texts), len(sources))
    measured = window.measurement
    energy_j = measured.energy_j
    sources_of_energy = {component.source for component in measured.components}
    row = BenchRow(
        config=config,
        summaries=len(texts),
        duration_s=measured.duration_s,
        energy_j=energy_j,
        j_per_summary=energy_j / len(texts),
        wh_per_1000=energy_j / len(texts) * 1000 / 3600,
        summaries_per_s=len(texts) / measured.duration_s if measured.duration_s > 0 else None,
        latency_p50_ms=float(np.percentile(latencies_ms, 50)),
        latency_p95_ms=float(np.percentile(latencies_ms, 95)),
        peak_ram_bytes=measured.peak_ram_bytes,
        peak_vram_bytes=measured.peak_vram_bytes,
        energy_source="measured" if sources_of_energy == {"measured"} else "estimated",
        is_reference=(config.backend, config.precision) == REFERENCE,
    )
    return row, texts


def _with_quality(
    row: BenchRow, texts: list[str], references: list[str], outputs: dict[BenchConfig, list[str]]
) -> BenchRow:
    """ROUGE against the data set's summaries; change and exact matches against the same workload's reference."""
    if not row.supported or not texts:
        return row
    from greentune.finetune.rouge import compute_rouge

    scores = compute_rouge(texts, references[: len(texts)])
    reference_config = BenchConfig(*REFERENCE, row.config.batch_size, row.config.num_beams, row.config.device)
    reference_texts = outputs.get(reference_config)
    rouge1, rouge2, rouge_l = scores["rouge1"], scores["rouge2"], scores["rougeL"]
    if reference_texts is None:
        return replace(row, rouge1=rouge1, rouge2=rouge2, rougeL=rouge_l)
    reference_scores = compute_rouge(reference_texts, references[: len(reference_texts)])
    return replace(
        row,
        rouge1=rouge1,
        rouge2=rouge2,
        rougeL=rouge_l,
        rouge1_delta=round(rouge1 - reference_scores["rouge1"], 4),
        rouge2_delta=round(rouge2 - reference_scores["rouge2"], 4),
        rougeL_delta=round(rouge_l - reference_scores["rougeL"], 4),
        exact_match_share=sum(a == b for a, b in zip(texts, reference_texts, strict=True)) / len(texts),
    )


def _record(
    row: BenchRow, request: BenchRequest, site: Any, hardware: str, artifact_dir: Path, started: datetime
) -> BenchRow:
    """Write the configuration as a ledger record of kind `infer`; returns the row with its run id."""
    from greentune.carbon import account
    from greentune.ledger import InferFigures, RunKind, RunRecord, write_run

    assert row.energy_j is not None and row.duration_s is not None and row.j_per_summary is not None
    config = row.config
    source: Literal["measured", "estimated"] = "measured" if row.energy_source == "measured" else "estimated"
    accounting = account(row.energy_j / JOULES_PER_KWH, max(row.duration_s, 1e-6), site, energy_source=source)
    record = RunRecord(
        run_id="",
        run_name=f"infer-{config.backend}-{config.precision}-b{config.batch_size}-beams{config.num_beams}-{config.device}",
        kind=RunKind.INFER,
        experiment=request.experiment,
        status="FINISHED",
        start_time=started.isoformat(),
        model_name=request.model,
        dataset_name=request.dataset,
        strategies={
            "backend": str(config.backend),
            "precision": str(config.precision),
            "batch_size": config.batch_size,
            "num_beams": config.num_beams,
            "device": config.device,
            "label": config.label,
        },
        hardware=hardware,
        duration_s=row.duration_s,
        energy_kwh=accounting.energy_kwh,
        location=accounting.location,
        intensity_gco2eq_per_kwh=accounting.intensity_gco2eq_per_kwh,
        pue=accounting.pue,
        emissions_gco2eq=accounting.emissions_gco2eq,
        cost_usd=accounting.cost_usd,
        rouge={"rouge1": row.rouge1 or 0.0, "rouge2": row.rouge2 or 0.0, "rougeL": row.rougeL or 0.0},
        samples_per_s=row.summaries_per_s,
        peak_ram_bytes=row.peak_ram_bytes,
        peak_vram_bytes=row.peak_vram_bytes,
        artifact_dir=str(artifact_dir.resolve()),
        accounting_inputs=[asdict(item) for item in accounting.inputs],
        notes=list(accounting.notes),
        infer=InferFigures(
            backend=str(config.backend),
            precision=str(config.precision),
            batch_size=config.batch_size,
            num_beams=config.num_beams,
            device=config.device,
            summaries=row.summaries,
            j_per_summary=row.j_per_summary,
            wh_per_1000_summaries=row.wh_per_1000 or 0.0,
            latency_p50_ms=row.latency_p50_ms or 0.0,
            latency_p95_ms=row.latency_p95_ms or 0.0,
            rouge_delta={
                key: value
                for key, value in (
                    ("rouge1", row.rouge1_delta),
                    ("rouge2", row.rouge2_delta),
                    ("rougeL", row.rougeL_delta),
                )
                if value is not None
            },
            exact_match_share=row.exact_match_share,
        ),
    )
    stored = write_run(record, tracking_uri=request.tracking_uri)
    return replace(row, run_id=stored.run_id)


def _hardware(described: dict[str, Any], devices: tuple[str, ...]) -> str:
    """The record's hardware line from the meter's description: GPUs when any cuda device ran, else the CPU."""
    gpus = described.get("gpu_models") or []
    if any(device.startswith("cuda") for device in devices) and gpus:
        return f"gpu: {gpus[0]} x{len(gpus)}"
    return f"cpu: {described.get('cpu_model', 'unknown')} x{described.get('cpu_count', 1)}"


def _notes(request: BenchRequest, site: Any) -> list[str]:
    notes = [
        "latency is per generate call (one batch); loading, export/conversion and one warm-up batch are outside the windows",
        f"quality: ROUGE against the {request.split} references; deltas against eager fp32 of the same batch size, beams and device",
    ]
    if site.note:
        notes.append(site.note)
    return notes
