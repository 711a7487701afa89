"""The experiment spec: validation errors are one line naming the problem; overrides; every example loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from greentune.errors import GreentuneError
from greentune.finetune.spec import ExperimentSpec, flatten, load_spec, strategy_label

ROOT = Path(__file__).resolve().parents[1]
GREENTUNE = Path(sys.executable).with_name("greentune")


def write_spec(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_defaults_are_the_offline_builtins() -> None:
    spec = load_spec(None)
    assert spec.model.name == "minilm-bert2bert"
    assert spec.data.name == "aclsum"
    assert spec.strategies.precision == "fp32"
    assert spec.run_name() == "minilm-bert2bert-baseline"


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "spec.yaml", {"strategies": {"precison": "bf16"}})
    with pytest.raises(GreentuneError) as error:
        load_spec(path)
    message = str(error.value)
    assert "strategies.precison" in message and "unknown key" in message
    assert "\n" not in message


def test_bad_value_names_the_key_and_expected_values(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "spec.yaml", {"strategies": {"freeze": "decoder"}})
    with pytest.raises(GreentuneError, match=r"strategies\.freeze: .*'embeddings'"):
        load_spec(path)


def test_meter_scope_is_machine_or_process(tmp_path: Path) -> None:
    assert load_spec(write_spec(tmp_path / "a.yaml", {})).meter.scope == "machine"
    assert load_spec(write_spec(tmp_path / "b.yaml", {"meter": {"scope": "process"}})).meter.scope == "process"
    with pytest.raises(GreentuneError, match=r"meter\.scope: .*'machine'"):
        load_spec(write_spec(tmp_path / "c.yaml", {"meter": {"scope": "node"}}))


def test_set_overrides_dotted_keys_with_yaml_values(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "spec.yaml", {"train": {"epochs": 3}})
    spec = load_spec(
        path,
        [
            "train.epochs=1.5",
            "strategies.early_stopping.enabled=true",
            "strategies.batch_size=auto",
            "site.location=FR",
        ],
    )
    assert spec.train.epochs == 1.5
    assert spec.strategies.early_stopping.enabled is True
    assert spec.strategies.batch_size == "auto"
    assert spec.site.location == "FR"
    assert strategy_label(spec.strategies) == "early-stop+auto-batch"


def test_set_rejects_unknown_keys_and_malformed_overrides() -> None:
    with pytest.raises(GreentuneError, match="unknown key 'train.epoch'"):
        load_spec(None, ["train.epoch=2"])
    with pytest.raises(GreentuneError, match="key=value"):
        load_spec(None, ["train.epochs"])


def test_cross_field_rules() -> None:
    with pytest.raises(GreentuneError, match="eval_steps"):
        load_spec(None, ["train.eval_strategy=steps"])
    with pytest.raises(GreentuneError, match="early_stopping needs"):
        load_spec(None, ["strategies.early_stopping.enabled=true", "train.eval_strategy=no"])
    with pytest.raises(GreentuneError, match="batch_size"):
        load_spec(None, ["strategies.batch_size=0"])


def test_a_model_or_tokenizer_shaped_like_a_path_must_be_a_folder(tmp_path: Path) -> None:
    missing = tmp_path / "checkpoints" / "best"
    for key in ("model.name", "model.tokenizer"):
        with pytest.raises(GreentuneError) as raised:
            load_spec(None, [f"{key}={missing}"])
        assert str(raised.value) == (
            f"spec: {key}: Value error, no folder '{missing}', and no Hub name is written so; give a model folder "
            "that exists, a Hub name (org/name) or minilm-bert2bert"
        )
    missing.mkdir(parents=True)
    assert load_spec(None, [f"model.name={missing}"]).model.name == str(missing)
    assert load_spec(None, ["model.name=facebook/bart-base"]).model.name == "facebook/bart-base"


def test_an_empty_spec_is_refused_and_braces_mean_every_default(tmp_path: Path) -> None:
    # an empty file ran the default training for minutes, with nothing on a non-terminal's stdout
    for text in ("", "# only a comment\n"):
        empty = tmp_path / "empty.yaml"
        empty.write_text(text)
        with pytest.raises(GreentuneError) as raised:
            load_spec(empty)
        assert str(raised.value) == (
            f"{empty} is empty; write the sections to set (model, data, strategies, ...), or {{}} for every default"
        )
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("{}\n")
    assert load_spec(defaults) == ExperimentSpec()


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(GreentuneError, match="not valid YAML"):
        load_spec(bad)


def test_a_folder_given_as_the_spec_is_called_a_folder(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError) as folder:
        load_spec(tmp_path)
    assert str(folder.value) == f"{tmp_path} is a folder; give the path of a YAML file"


@pytest.mark.parametrize("override", [".=1", "train..epochs=1", "train.=1", ".train=1"])
def test_a_set_key_with_an_empty_part_is_refused(override: str) -> None:
    with pytest.raises(GreentuneError) as refused:
        load_spec(None, [override])
    key = override.partition("=")[0]
    assert str(refused.value) == f"--set {key}: a dotted key has an empty part; e.g. strategies.precision=bf16"


def test_flatten_gives_dotted_string_params() -> None:
    flat = flatten(ExperimentSpec())
    assert flat["strategies.precision"] == "fp32"
    assert flat["train.learning_rate"] == "0.0002"
    assert all(isinstance(value, str) for value in flat.values())


@pytest.mark.parametrize(
    ("spec_data", "expected"),
    [
        ({"strategies": {"precison": "fp16"}}, "unknown key 'strategies.precison'"),
        ({"strategies": {"precision": "fp16"}}, "strategies.precision fp16 needs a CUDA GPU"),
    ],
)
def test_cli_fails_fast_with_one_line(tmp_path: Path, spec_data: dict, expected: str) -> None:
    path = write_spec(tmp_path / "spec.yaml", spec_data)
    wide = {**os.environ, "COLUMNS": "500"}  # so that Rich does not wrap the one line
    result = subprocess.run(
        [str(GREENTUNE), "run", str(path)], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=wide
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert result.stdout == ""  # the one line is all the user sees
    assert not (tmp_path / "greentune-runs").exists()
