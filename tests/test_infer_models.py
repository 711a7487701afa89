"""`greentune.models.resolve_model`: built-in, folder, ledger run (id or name) with or without a saved model, Hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.ledger import RunKind, RunRecord, write_run
from greentune.models import ModelSourceKind, resolve_model
from greentune.serve.model import ServedModel, resolve_served_model


def record(run_name: str, artifact_dir: Path) -> RunRecord:
    return RunRecord(
        run_id="",
        run_name=run_name,
        kind=RunKind.TRAIN,
        experiment="models",
        status="FINISHED",
        start_time="2026-12-01T20:00:00+00:00",
        model_name="minilm-bert2bert",
        dataset_name="aclsum",
        hardware="cpu: test x2",
        duration_s=10.0,
        energy_kwh=0.001,
        location="DE",
        intensity_gco2eq_per_kwh=400.0,
        pue=1.0,
        emissions_gco2eq=0.4,
        artifact_dir=str(artifact_dir),
    )


def test_builtin_folder_and_hub_names(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}"  # no ledger yet: nothing is created by reading
    assert resolve_model("minilm-bert2bert", uri).kind is ModelSourceKind.BUILTIN
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "config.json").write_text("{}")
    folder = resolve_model(str(tmp_path / "saved"), uri)
    assert (folder.kind, folder.location) == (ModelSourceKind.FOLDER, str((tmp_path / "saved").resolve()))
    hub = resolve_model("facebook/bart-large-cnn", uri)
    assert (hub.kind, hub.location) == (ModelSourceKind.HUB, "facebook/bart-large-cnn")
    assert not (tmp_path / "none").exists()


def test_bad_names_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(GreentuneError, match="holds no config.json"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(GreentuneError, match="is a file; give a model folder"):
        resolve_model(str(tmp_path / "weights.bin"))
    with pytest.raises(GreentuneError, match="the model name is empty"):
        resolve_model("  ")


@pytest.mark.parametrize("name", ["./nope-model", "/no/such/model", "runs/a/model", "~/models/nope"])
def test_a_path_that_does_not_exist_is_called_missing_not_a_bad_hub_name(name: str, tmp_path: Path) -> None:
    with pytest.raises(GreentuneError) as missing:
        resolve_model(name, f"sqlite:///{tmp_path / 'none' / 'mlflow.db'}")
    assert str(missing.value) == (
        f"no folder '{name}', and no Hub name is written so; give a model folder that exists, a Hub name "
        "(org/name) or minilm-bert2bert"
    )
    assert not (tmp_path / "none").exists()  # looking for a ledger run of that name created no ledger


def test_a_ledger_run_resolves_to_its_saved_model_by_name_or_id(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}"
    with_model = tmp_path / "runs" / "a"
    (with_model / "model").mkdir(parents=True)
    (with_model / "model" / "config.json").write_text("{}")
    stored = write_run(record("tuned", with_model), tracking_uri=uri)
    write_run(record("weightless", tmp_path / "runs" / "b"), tracking_uri=uri)

    by_name = resolve_model("tuned", uri)
    assert (by_name.kind, by_name.location, by_name.run and by_name.run.run_id) == (
        ModelSourceKind.LEDGER_RUN,
        str(with_model / "model"),
        stored.run_id,
    )
    assert resolve_model(stored.run_id, uri).location == str(with_model / "model")
    with pytest.raises(GreentuneError, match="ledger run 'weightless' has no saved model in .*runs/b/model"):
        resolve_model("weightless", uri)


def test_serve_takes_a_ledger_runs_saved_model_with_its_generation_settings(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}"
    artifacts = tmp_path / "runs" / "a"
    (artifacts / "model").mkdir(parents=True)
    (artifacts / "model" / "config.json").write_text("{}")
    tuned = record("tuned", artifacts).model_copy(update={"spec": {"generate": {"num_beams": 4, "max_new_tokens": 20}}})
    write_run(tuned, tracking_uri=uri)
    assert resolve_served_model("tuned", uri) == ServedModel(
        source=str(artifacts / "model"), label="tuned", run_name="tuned", num_beams=4, max_new_tokens=20
    )
    assert resolve_served_model("facebook/bart-large-cnn", uri) == ServedModel(
        source="facebook/bart-large-cnn", label="facebook/bart-large-cnn"
    )
