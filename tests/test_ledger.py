"""The ledger round trip through a real SQLite MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.ledger import ComponentEnergy, PhaseFootprint, RunRecord, default_tracking_uri, read_runs, write_run


def make_record(
    status: str = "FINISHED", run_name: str = "bart-baseline", experiment: str = "ledger-test"
) -> RunRecord:
    return RunRecord(
        run_id="",
        run_name=run_name,
        experiment=experiment,
        status=status,
        start_time="2026-11-23T10:00:00+00:00",
        model_name="facebook/bart-large",
        dataset_name="knkarthick/samsum",
        strategies={"precision": "bf16", "label": "bf16"},
        spec={"strategies": {"precision": "bf16"}},
        hardware="gpu: NVIDIA H100 80GB HBM3 x1",
        duration_s=120.5,
        energy_kwh=0.0123,
        components=[
            ComponentEnergy(name="gpu:0", energy_kwh=0.01, source="measured"),
            ComponentEnergy(name="cpu:package-0", energy_kwh=0.0023, source="measured"),
        ],
        phases=[
            PhaseFootprint(name="train", duration_s=100.0, energy_kwh=0.011),
            PhaseFootprint(name="generate", duration_s=20.5, energy_kwh=0.0013),
        ],
        location="DE",
        intensity_gco2eq_per_kwh=342.06,
        pue=1.1,
        emissions_gco2eq=4.63,
        cost_usd=0.12,
        rouge={"rouge1": 45.1, "rouge2": 21.0, "rougeL": 37.2, "rougeLsum": 41.0},
        samples_per_s=55.0,
        epochs_run=2.0,
        epochs_budget=3.0,
        early_stopping_saved_kwh=0.006,
        eval_history=[
            {"epoch": 1.0, "eval_loss": 2.1, "rouge1": 40.0},
            {"epoch": 2.0, "eval_loss": 1.9, "rouge1": 45.1},
        ],
        notes=["a note"],
    )


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'mlflow.db'}"


def test_round_trip_keeps_every_field(uri: str, tmp_path: Path) -> None:
    predictions = tmp_path / "predictions_validation.jsonl"
    predictions.write_text('{"reference": "a", "prediction": "b"}\n')
    stored = write_run(
        make_record(),
        artifacts=[predictions],
        params={"strategies.precision": "bf16"},
        extra_metrics={"data.train.source.truncated_pct": 12.5},
        tracking_uri=uri,
    )
    assert stored.run_id
    (read,) = [record for record in read_runs(uri, experiment="ledger-test") if record.run_id == stored.run_id]
    assert read == stored
    assert read.energy_source == "measured"


def test_mlflow_sees_params_metrics_and_artifacts(uri: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    predictions = tmp_path / "predictions_validation.jsonl"
    predictions.write_text("{}\n")
    stored = write_run(
        make_record(), artifacts=[predictions], params={"strategies.precision": "bf16"}, tracking_uri=uri
    )
    run = MlflowClient(tracking_uri=uri).get_run(stored.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "bart-baseline"
    assert run.data.params["strategies.precision"] == "bf16"
    metrics = run.data.metrics
    assert metrics["rouge.rouge1"] == 45.1 and metrics["emissions_gco2eq"] == 4.63 and metrics["cost_usd"] == 0.12
    assert metrics["energy_kwh.gpu_0"] == 0.01 and metrics["phase.generate.energy_kwh"] == 0.0013
    assert metrics["eval.rouge1"] == 45.1  # the latest of the per-evaluation history
    history = MlflowClient(tracking_uri=uri).get_metric_history(stored.run_id, "eval.rouge1")
    assert [point.value for point in sorted(history, key=lambda point: point.step)] == [40.0, 45.1]
    artifacts = {item.path for item in MlflowClient(tracking_uri=uri).list_artifacts(stored.run_id)}
    assert {"run_record.json", "predictions_validation.jsonl"} <= artifacts


def test_failed_and_killed_runs_keep_their_status(uri: str) -> None:
    for status in ("FAILED", "KILLED"):
        write_run(make_record(status=status, experiment="statuses"), tracking_uri=uri)
    assert sorted(record.status for record in read_runs(uri, experiment="statuses")) == ["FAILED", "KILLED"]


def test_unknown_experiment_reads_empty(uri: str) -> None:
    assert read_runs(uri, experiment="no-such-experiment") == []


def test_default_tracking_uri_is_a_sqlite_file_under_greentune_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GREENTUNE_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'greentune-runs' / 'mlflow.db'}"
    monkeypatch.setenv("GREENTUNE_TRACKING_URI", "sqlite:///elsewhere.db")
    assert default_tracking_uri() == "sqlite:///elsewhere.db"


def test_reading_a_ledger_that_does_not_exist_yet_creates_nothing(tmp_path: Path) -> None:
    database = tmp_path / "not-yet" / "mlflow.db"
    assert read_runs(tracking_uri=f"sqlite:///{database}") == []
    assert not database.parent.exists()


@pytest.mark.parametrize("uri", ["bogus://x", "sqlite:////proc/greentune-no-such/mlflow.db"])
def test_a_ledger_that_cannot_be_opened_is_one_clear_error(uri: str) -> None:
    from greentune.errors import GreentuneError

    with pytest.raises(GreentuneError, match="cannot open or write the ledger at") as raised:
        write_run(make_record(), tracking_uri=uri)
    assert "\n" not in str(raised.value)


def test_a_folder_given_as_the_ledger_file_is_one_clear_error(tmp_path: Path) -> None:
    from greentune.errors import GreentuneError

    with pytest.raises(GreentuneError) as raised:
        read_runs(f"sqlite:///{tmp_path}")  # it read as an empty ledger
    assert str(raised.value) == (
        f"the ledger {tmp_path} is a folder, not a SQLite file; give sqlite:///{tmp_path / 'mlflow.db'} "
        "or another ledger's file"
    )
