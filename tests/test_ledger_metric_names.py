"""The metric names and values an MLflow user sees for a run, read back with MlflowClient.

These names are the ledger's public interface for anyone who opens the MLflow
UI or queries the store (`mlflow.search_runs`, dashboards): renaming one
silently breaks their queries, so each is pinned here with its value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.ledger import ComponentEnergy, PhaseFootprint, RunRecord, write_run


def full_record() -> RunRecord:
    """A finished run with every number the ledger writes as a metric set to a distinct value."""
    return RunRecord(
        run_id="",
        run_name="names",
        experiment="metric-names",
        status="FINISHED",
        start_time="2026-11-23T10:00:00+00:00",
        model_name="tiny",
        dataset_name="aclsum",
        hardware="gpu: NVIDIA H100 80GB HBM3 x1",
        duration_s=120.5,
        energy_kwh=0.0123,
        components=[
            ComponentEnergy(name="gpu:0", energy_kwh=0.01, source="measured"),
            ComponentEnergy(name="cpu:package-0", energy_kwh=0.0023, source="measured"),
        ],
        phases=[
            PhaseFootprint(name="train", duration_s=100.0, energy_kwh=0.011),
            PhaseFootprint(name="eval-loss", duration_s=20.5, energy_kwh=0.0013),
        ],
        location="DE",
        intensity_gco2eq_per_kwh=342.06,
        pue=1.1,
        emissions_gco2eq=4.63,
        embodied_gco2eq=0.71,
        cost_usd=0.12,
        rouge={"rouge1": 45.1, "rougeL": 37.2},
        test_rouge={"rouge1": 44.0},
        samples_per_s=55.0,
        tokens_per_s=7040.0,
        total_flos=3.2e15,
        peak_ram_bytes=2_000_000_000,
        peak_vram_bytes=40_000_000_000,
        avg_cpu_util_pct=35.5,
        avg_gpu_util_pct=91.25,
        avg_power_w=367.5,
        peak_power_w=480.0,
        epochs_run=2.0,
        epochs_budget=3.0,
        early_stopping_saved_kwh=0.006,
    )


EXPECTED = {
    "duration_s": 120.5,
    "energy_kwh": 0.0123,
    "emissions_gco2eq": 4.63,
    "embodied_gco2eq": 0.71,
    "cost_usd": 0.12,
    "intensity_gco2eq_per_kwh": 342.06,
    "pue": 1.1,
    "samples_per_s": 55.0,
    "tokens_per_s": 7040.0,
    "total_flos": 3.2e15,
    "peak_ram_bytes": 2e9,
    "peak_vram_bytes": 4e10,
    "avg_cpu_util_pct": 35.5,
    "avg_gpu_util_pct": 91.25,
    "avg_power_w": 367.5,
    "peak_power_w": 480.0,
    "epochs_run": 2.0,
    "epochs_budget": 3.0,
    "early_stopping_saved_kwh": 0.006,
    "rouge.rouge1": 45.1,
    "rouge.rougeL": 37.2,
    "test_rouge.rouge1": 44.0,
    "energy_kwh.gpu_0": 0.01,
    "energy_kwh.cpu_package-0": 0.0023,
    "phase.train.energy_kwh": 0.011,
    "phase.train.duration_s": 100.0,
    "phase.eval-loss.energy_kwh": 0.0013,
    "phase.eval-loss.duration_s": 20.5,
}


def test_mlflow_shows_each_figure_under_its_documented_name(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    stored = write_run(full_record(), tracking_uri=uri)
    metrics = MlflowClient(tracking_uri=uri).get_run(stored.run_id).data.metrics
    assert {name: metrics.get(name) for name in EXPECTED} == EXPECTED


def test_missing_figures_are_left_out_not_written_as_zero(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    record = full_record().model_copy(update={"cost_usd": None, "embodied_gco2eq": None, "tokens_per_s": None})
    stored = write_run(record, tracking_uri=uri)
    metrics = MlflowClient(tracking_uri=uri).get_run(stored.run_id).data.metrics
    assert {"cost_usd", "embodied_gco2eq", "tokens_per_s"}.isdisjoint(metrics)
    assert metrics["energy_kwh"] == pytest.approx(0.0123)
