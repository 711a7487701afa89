"""The runner end to end on a tiny random BART: phases, artifacts, strategies, failures, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.ledger import read_runs
from greentune.meter import read_log
from tiny_models import TINY_SEQ2SEQ, run_tiny, tiny_tracking_uri


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ledger for the module: creating a SQLite MLflow store costs seconds."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def baseline(root: Path):
    return run_tiny(root, **{"train.run_test": True})


def test_baseline_run_is_measured_per_phase(baseline) -> None:
    assert baseline.status == "FINISHED"
    names = [phase.name for phase in baseline.phases]
    for expected in ("load", "train", "eval-loss", "generate", "test", "epoch-1"):
        assert expected in names
    assert baseline.energy_kwh > 0 and baseline.duration_s > 0
    # each phase is its windows in the run's meter log; train and eval-loss are what is left after subtraction
    windows: dict[str, float] = {}
    for entry in read_log(Path(baseline.artifact_dir) / "meter.jsonl"):
        if entry["type"] == "window":
            windows[entry["name"]] = windows.get(entry["name"], 0.0) + entry["duration_s"]
    phases = {phase.name: phase.duration_s for phase in baseline.phases}
    assert phases["train"] == pytest.approx(
        windows["train-loop"] - windows["evaluation"] - windows.get("checkpoint", 0.0), abs=1e-6
    )
    assert phases["eval-loss"] == pytest.approx(windows["evaluation"] - windows["generate"], abs=1e-6)
    for name in ("load", "generate", "test", "epoch-1"):
        assert phases[name] == pytest.approx(windows[name], abs=1e-6)
    assert baseline.components and baseline.energy_source in ("measured", "estimated")
    assert baseline.emissions_gco2eq > 0 and baseline.location == "DE"
    assert set(baseline.rouge) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert set(baseline.test_rouge) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    assert baseline.samples_per_s and baseline.tokens_per_s and baseline.total_flos
    assert baseline.peak_ram_bytes and baseline.peak_ram_bytes > 0
    assert baseline.epochs_run == 1 and baseline.epochs_budget == 1
    assert baseline.early_stopping_saved_kwh is None
    assert baseline.strategies["label"] == "baseline" and baseline.strategies["batch_size_used"] == 4
    assert baseline.eval_history[0]["epoch"] == 1.0


def test_artifacts_are_kept_locally(baseline) -> None:
    folder = Path(baseline.artifact_dir)
    for name in (
        "meter.jsonl",
        "spec.yaml",
        "data_report.json",
        "emissions.csv",
        "predictions_validation.jsonl",
        "predictions_test.jsonl",
    ):
        assert (folder / name).is_file(), name
    predictions = [json.loads(line) for line in (folder / "predictions_validation.jsonl").read_text().splitlines()]
    assert len(predictions) == 4 and {"reference", "prediction"} <= set(predictions[0])
    report = json.loads((folder / "data_report.json").read_text())
    assert report["train"]["source"]["max_length"] == 48
    assert report["train"]["source"]["truncated_pct"] > 50  # abstracts are longer than 48 tokens
    assert baseline.data_report == report


def test_the_ledger_reads_the_run_back(root: Path, baseline) -> None:
    stored = [record for record in read_runs(tiny_tracking_uri(root)) if record.run_id == baseline.run_id]
    assert stored == [baseline]


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        ({"strategies.freeze": "embeddings"}, "freeze-embeddings"),
        ({"strategies.freeze": "both"}, "freeze-both"),
        ({"strategies.lora.enabled": True}, "lora-r8"),
        ({"strategies.group_by_length": True, "strategies.optimizer": "adafactor"}, "group-by-length+adafactor"),
        ({"strategies.gradient_accumulation_steps": 2, "strategies.gradient_checkpointing": True}, "accum2+grad-ckpt"),
    ],
)
def test_strategy_runs_and_is_recorded(root: Path, overrides: dict, label: str) -> None:
    record = run_tiny(root, **overrides)
    assert record.status == "FINISHED"
    assert record.strategies["label"] == label
    assert record.rouge


def test_process_scope_reaches_the_runs_meter(root: Path) -> None:
    record = run_tiny(root, experiment="scope", **{"meter.scope": "process", "train.max_steps": 2})
    start = next(r for r in read_log(Path(record.artifact_dir) / "meter.jsonl") if r["type"] == "meter_start")
    assert start["hardware"]["sensors"]["host"]["scope"] == "process"
    assert "rapl" not in start["hardware"]["sensors"]
    assert record.energy_kwh > 0


def test_auto_batch_size_records_the_size_used(root: Path) -> None:
    record = run_tiny(root, **{"strategies.batch_size": "auto"})
    assert record.strategies["batch_size"] == "auto"
    assert record.strategies["batch_size_used"] >= 1


def test_early_stopping_stops_and_says_what_it_saved(root: Path) -> None:
    # a threshold no tiny model can beat: the second evaluation does not count as an improvement
    record = run_tiny(
        root,
        **{
            "train.epochs": 4,
            "strategies.early_stopping.enabled": True,
            "strategies.early_stopping.threshold": 1000.0,
        },
    )
    assert record.epochs_run == 2 and record.epochs_budget == 4
    assert record.early_stopping_saved_kwh is not None and record.early_stopping_saved_kwh > 0
    assert "checkpoint" in [phase.name for phase in record.phases]
    assert any("best evaluation" in note for note in record.notes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"strategies.precision": "fp16"}, "needs a CUDA GPU"),
        ({"strategies.precision": "bf16"}, "needs a CUDA GPU"),
        ({"strategies.deepspeed.enabled": True}, "deepspeed"),
    ],
)
def test_strategies_this_machine_cannot_run_fail_before_loading(root: Path, overrides: dict, message: str) -> None:
    with pytest.raises(GreentuneError, match=message):
        run_tiny(root, **overrides)


def test_a_crash_is_recorded_as_failed_with_what_was_measured(root: Path) -> None:
    # positions beyond the model's 64 embeddings: the forward pass raises inside training
    with pytest.raises(IndexError):
        run_tiny(root, experiment="crash", **{"data.max_source_tokens": 200})
    (record,) = read_runs(tiny_tracking_uri(root), experiment="crash")
    assert record.status == "FAILED"
    assert record.energy_kwh > 0 and "load" in [phase.name for phase in record.phases]
    assert any(note.startswith("failed: IndexError") for note in record.notes)


def test_resume_continues_from_the_last_checkpoint(root: Path) -> None:
    first = run_tiny(root, experiment="resume", **{"train.max_steps": 2, "train.save_checkpoints": True})
    assert first.status == "FINISHED"
    second = run_tiny(root, experiment="resume", resume=True, **{"train.max_steps": 4, "train.save_checkpoints": True})
    assert any(note.startswith("resumed from checkpoint-2") for note in second.notes)
    assert second.epochs_run > first.epochs_run


def test_resume_without_a_checkpoint_says_so(root: Path) -> None:
    with pytest.raises(GreentuneError, match="no Trainer checkpoint"):
        run_tiny(root, experiment="never-run", resume=True)


KILL_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from tiny_models import run_tiny
run_tiny(Path({root!r}), experiment="killed", **{{"train.epochs": 500}})
"""


@pytest.mark.slow
def test_a_terminated_run_is_recorded_as_killed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), root=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    logs = tmp_path / "ledger" / "runs"
    while time.monotonic() < deadline and process.poll() is None:
        if any('"name":"epoch-2"' in path.read_text() for path in logs.glob("*/meter.jsonl")):
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    (record,) = read_runs(tiny_tracking_uri(tmp_path), experiment="killed")
    assert record.status == "KILLED"
    assert record.epochs_run and 1 <= record.epochs_run < 500
    assert any("terminated (SIGTERM)" in note for note in record.notes)


def test_the_gpu_shaped_example_runs_shrunk_on_cpu(tmp_path: Path) -> None:
    """The benchmark's path (random-init BART, synthetic data, no evaluation during training) end to end."""
    from greentune.finetune import load_spec, run

    example = Path(__file__).resolve().parents[1] / "examples" / "gpu-bart-large-shaped.yaml"
    shrink = [f"model.config_overrides.{key}={value}" for key, value in TINY_SEQ2SEQ.items()]
    spec = load_spec(
        example,
        [
            *shrink,
            "data.synthetic_samples=16",
            "data.max_eval_samples=4",
            "data.max_source_tokens=64",
            "generate.max_new_tokens=4",
            f"ledger.tracking_uri={tiny_tracking_uri(tmp_path)}",
        ],
    )
    record = run(spec)
    assert record.status == "FINISHED" and record.dataset_name == "synthetic"
    assert "validate" in [phase.name for phase in record.phases]
    assert record.data_report["train"]["source"]["count"] == 16
    assert record.samples_per_s and record.samples_per_s > 0
