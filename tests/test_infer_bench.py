"""`greentune bench-infer` end to end on a tiny BART folder: rows, reasons, quality against eager, ledger records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from greentune.ledger import RunKind, read_runs
from tiny_models import save_tiny_bart


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_bart(tmp_path_factory.mktemp("tiny-bart"))


def greentune(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", *args]
    env = {**os.environ, "GREENTUNE_TRACKING_URI": f"sqlite:///{cwd / 'ledger' / 'mlflow.db'}"}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.slow
def test_json_rows_reasons_quality_and_records(tiny_bart: str, tmp_path: Path) -> None:
    done = greentune(
        "bench-infer", tiny_bart, "--samples", "3", "--backend", "eager", "--backend", "ct2",
        "--precision", "fp32", "--precision", "fp16", "--batch-size", "2", "--max-new-tokens", "6",
        "--location", "DE", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    rows = result["rows"]
    assert [(r["backend"], r["precision"]) for r in rows] == [
        ("eager", "fp32"),
        ("eager", "fp16"),
        ("ct2", "fp32"),
        ("ct2", "fp16"),
    ]
    reference, eager_fp16, ct2_fp32, ct2_fp16 = rows
    assert eager_fp16["reason"] == "fp16 on cpu is not supported (use fp32, bf16)"
    assert ct2_fp16["reason"] == "fp16 on cpu is not supported (use int8, int8_fp32, fp32)"
    assert eager_fp16["j_per_summary"] is None and ct2_fp16["latency_p95_ms"] is None
    for row in (reference, ct2_fp32):
        assert row["reason"] is None and row["summaries"] == 3 and row["batch_size"] == 2
        assert row["j_per_summary"] == pytest.approx(row["energy_j"] / 3)
        assert row["wh_per_1000"] == pytest.approx(row["energy_j"] / 3 * 1000 / 3600)
        assert row["latency_p50_ms"] <= row["latency_p95_ms"]
        # CTranslate2 fp32 decodes the same tokens as eager: no quality change, every summary identical
        assert row["rouge1_delta"] == 0.0 and row["exact_match_share"] == 1.0
    assert reference["is_reference"] is True and ct2_fp32["is_reference"] is False
    cheapest = min((reference, ct2_fp32), key=lambda row: row["j_per_summary"])
    expected = f"{cheapest['backend']}/{cheapest['precision']} batch 2 beams 1 cpu"
    assert result["recommendation"]["choice"] == expected
    assert result["recommendation"]["location"] == "DE"

    records = read_runs(f"sqlite:///{tmp_path / 'ledger' / 'mlflow.db'}")
    assert sorted((r.kind, r.infer.backend) for r in records if r.infer) == [
        (RunKind.INFER, "ct2"),
        (RunKind.INFER, "eager"),
    ]
    by_id = {record.run_id: record for record in records}
    for row in (reference, ct2_fp32):
        record = by_id[row["run_id"]]
        assert record.energy_kwh == pytest.approx(row["energy_j"] / 3.6e6)
        assert record.infer is not None and record.infer.j_per_summary == pytest.approx(row["j_per_summary"])
        assert record.infer.latency_p95_ms == pytest.approx(row["latency_p95_ms"])
        assert record.location == "DE"


def greentune_here(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The CLI's `main` in this process (exit code, stderr): bad input fails before any model loads."""
    from greentune.cli.app import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["greentune", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "error: --batch-size takes whole numbers ≥ 1, got [0]"),
        (["--samples", "0"], "error: --samples must be ≥ 1, got 0"),
        (["--device", "tpu"], "error: --device takes cpu, cuda or cuda:N, got 'tpu'"),
        (["--latency-budget-ms", "-5"], "error: --latency-budget-ms must be > 0, got -5.0"),
        (["--backend", "tensorrt"], "error: Invalid value for '--backend'"),
        (["--split", "train"], "error: Invalid value for '--split'"),
        (
            ["--scope", "node"],
            "error: Invalid value for '--scope' / '--meter-scope': Value error, 'node' is not one of 'machine', 'process'",
        ),
        (
            ["--meter-scope", "node"],
            "error: Invalid value for '--scope' / '--meter-scope': Value error, 'node' is not one of 'machine', 'process'",
        ),
    ],
)
def test_bad_options_are_one_line_errors(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stderr = greentune_here(["bench-infer", "minilm-bert2bert", *args], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert stderr.startswith(message)
    assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "greentune-runs").exists()  # nothing loaded or written


def test_a_folder_without_config_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    code, stderr = greentune_here(
        ["bench-infer", str(tmp_path / "empty"), "--samples", "2"], tmp_path, monkeypatch, capsys
    )
    assert code == 2
    assert (
        stderr.strip()
        == f"error: folder '{tmp_path / 'empty'}' holds no config.json; give a folder written by save_pretrained"
    )


def test_a_broken_ledger_is_refused_before_any_configuration_runs(
    tiny_bart: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "mlflow.db").write_bytes(b"this is not a database" * 100)
    uri = f"sqlite:///{ledger / 'mlflow.db'}"
    args = ["bench-infer", tiny_bart, "--samples", "2", "--batch-size", "2", "--backend", "eager"]
    args += ["--tracking-uri", uri]
    code, stderr = greentune_here(args, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert stderr.strip() == (
        f"error: cannot open or write the ledger at {uri} (DatabaseError: file is not a database); "
        "give a working tracking URI like sqlite:///path/mlflow.db or http://host:5000"
    )
    assert not (ledger / "runs").exists()  # nothing was measured, only to be lost


def test_a_file_in_place_of_the_ledger_folder_is_one_line(
    tiny_bart: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blocker").write_text("")
    uri = f"sqlite:///{tmp_path / 'blocker' / 'mlflow.db'}"
    args = ["bench-infer", tiny_bart, "--samples", "2", "--backend", "eager", "--no-record", "--tracking-uri", uri]
    code, stderr = greentune_here(args, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert stderr.startswith(f"error: cannot create the folder {tmp_path / 'blocker' / 'runs'}/")
    assert stderr.strip().endswith(": Not a directory; free space or choose a writable ledger location")
    assert len(stderr.strip().splitlines()) == 1
