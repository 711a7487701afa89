"""The serving session's record: a `RunRecord` of kind serve, written to the ledger when the server stops.

Energy is the whole session's (active inside batch windows plus idle between
them, per component, summed over replicas); the accounting (gCO2eq, $) is of
that total at the session's site; `serving` keeps active and idle apart.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from greentune.carbon import account
from greentune.carbon.intensity import Site
from greentune.ledger import ComponentEnergy, PhaseFootprint, RunKind, RunRecord, ServingFootprint, write_run
from greentune.meter.host import cpu_model_name
from greentune.meter.measurement import JOULES_PER_KWH
from greentune.serve.batcher import BatcherConfig
from greentune.serve.engine import EngineInfo
from greentune.serve.model import ServedModel
from greentune.serve.snapshot import Snapshot
from greentune.serve.stats import Stats


@dataclass(frozen=True)
class SessionRequest:
    """What a session record is built from, besides the final totals."""

    info: EngineInfo
    served: ServedModel
    site: Site
    config: BatcherConfig
    started: datetime
    experiment: str
    run_name: str
    tracking_uri: str | None = None
    artifact_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def _hardware(device: str, gpu_name: str | None) -> str:
    if device.startswith("cuda") and gpu_name:
        return f"gpu: {gpu_name} x1"
    return f"cpu: {cpu_model_name()} x{os.cpu_count() or 1}"


def session_record(request: SessionRequest, total: Snapshot, stats: Stats, gpu_name: str | None = None) -> RunRecord:
    """The session as the ledger stores it (run id filled in by `write_run`)."""
    by_component = {
        name: total.active_energy_j.get(name, 0.0) + total.idle_energy_j.get(name, 0.0)
        for name in {*total.active_energy_j, *total.idle_energy_j}
    }
    energy_kwh = sum(by_component.values()) / JOULES_PER_KWH
    duration_s = max(total.session_duration_s, 1e-9)
    accounting = account(energy_kwh, duration_s, request.site, energy_source=total.source)  # type: ignore[arg-type]
    info = request.info
    return RunRecord(
        run_id="",
        run_name=request.run_name,
        kind=RunKind.SERVE,
        experiment=request.experiment,
        status="FINISHED",
        start_time=request.started.isoformat(),
        model_name=request.served.label,
        dataset_name="requests",
        strategies={"label": f"serve {info.backend}", "backend": info.backend, "max_batch": request.config.max_batch},
        spec={
            "model": request.served.source,
            "run_name": request.served.run_name,
            "generation": asdict(info.settings),
            "batching": asdict(request.config),
            "replicas": info.replicas,
        },
        hardware=_hardware(info.device, gpu_name),
        device_count=info.replicas,
        duration_s=duration_s,
        energy_kwh=energy_kwh,
        components=[
            ComponentEnergy(
                name=name,
                energy_kwh=joules / JOULES_PER_KWH,
                source=total.component_sources.get(name, "estimated"),
            )
            for name, joules in sorted(by_component.items())
        ],
        phases=[
            PhaseFootprint(name="active", duration_s=total.active_duration_s, energy_kwh=total.active_kwh),
            PhaseFootprint(name="idle", duration_s=total.idle_duration_s, energy_kwh=total.idle_kwh),
        ],
        location=accounting.location,
        intensity_gco2eq_per_kwh=accounting.intensity_gco2eq_per_kwh,
        pue=accounting.pue,
        emissions_gco2eq=accounting.emissions_gco2eq,
        cost_usd=accounting.cost_usd,
        tokens_per_s=(total.input_tokens + total.output_tokens) / duration_s,
        samples_per_s=total.requests / duration_s,
        avg_power_w=sum(by_component.values()) / duration_s,
        artifact_dir=str(request.artifact_dir.resolve()) if request.artifact_dir else None,
        accounting_inputs=[asdict(item) for item in accounting.inputs],
        notes=[*request.notes, *accounting.notes],
        serving=ServingFootprint(
            backend=info.backend,
            device=info.device,
            replicas=info.replicas,
            max_batch=request.config.max_batch,
            requests=total.requests,
            failed=total.failed,
            batches=total.batches,
            input_tokens=total.input_tokens,
            output_tokens=total.output_tokens,
            active_energy_kwh=total.active_kwh,
            idle_energy_kwh=total.idle_kwh,
            active_duration_s=total.active_duration_s,
            idle_duration_s=total.idle_duration_s,
            active_gco2eq=total.active_gco2eq,
            idle_gco2eq=total.idle_gco2eq,
            active_cost_usd=total.active_usd,
            idle_cost_usd=total.idle_usd,
            energy_j_per_request_mean=stats.energy_j_per_request_mean,
            energy_j_per_request_p50=stats.energy_j_per_request_p50,
            energy_j_per_request_p95=stats.energy_j_per_request_p95,
            wh_per_1000_requests=stats.wh_per_1000_requests,
            gco2eq_per_1000_requests=stats.gco2eq_per_1000_requests,
            latency_ms_p50=stats.latency_ms_p50,
            latency_ms_p95=stats.latency_ms_p95,
        ),
    )


def serving_metrics(record: RunRecord) -> dict[str, float]:
    """The serving figures as flat MLflow metrics (``serving.requests``, ``serving.idle_energy_kwh``, ...)."""
    if record.serving is None:
        return {}
    return {
        f"serving.{key}": float(value)
        for key, value in record.serving.model_dump().items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def write_session(request: SessionRequest, total: Snapshot, stats: Stats, gpu_name: str | None = None) -> RunRecord:
    """Build the session's record and store it in the ledger; returns the stored record."""
    record = session_record(request, total, stats, gpu_name)
    artifacts = sorted(request.artifact_dir.iterdir()) if request.artifact_dir else []
    return write_run(
        record, artifacts=artifacts, extra_metrics=serving_metrics(record), tracking_uri=request.tracking_uri
    )
