"""`greentune footprint` over a SQLite ledger holding every kind of job: exact sums, no double counting, SCI units."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.ledger import PhaseFootprint, RunKind, read_runs, write_run
from greentune.report.footprint import Footprint, parse_since, project_footprint
from greentune.report.footprint_page import render_html, summary_lines
from hand_records import hand_record

runner = CliRunner()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'mlflow.db'}"
    load = [PhaseFootprint(name="load", duration_s=5.0, energy_kwh=0.001)]
    write_run(
        hand_record(
            "baseline",
            RunKind.TRAIN,
            "FINISHED",
            "2026-11-01T10:00:00+00:00",
            0.010,
            4.0,
            embodied_gco2eq=1.0,
            cost_usd=0.02,
            storage_bytes=1000,
            phases=load,
        ),
        tracking_uri=uri,
    )
    write_run(hand_record("killed", RunKind.TRAIN, "KILLED", "2026-11-02T10:00:00+00:00", 0.004, 1.5), tracking_uri=uri)
    write_run(hand_record("failed", RunKind.TRAIN, "FAILED", "2026-11-03T10:00:00+00:00", 0.002, 0.5), tracking_uri=uri)
    sweep = write_run(
        hand_record(
            "sweep",
            RunKind.SWEEP,
            "FINISHED",
            "2026-11-04T10:00:00+00:00",
            0.030,
            12.0,
            embodied_gco2eq=3.0,
            cost_usd=0.06,
            storage_bytes=4000,
        ),
        tracking_uri=uri,
    )
    for index, grams in enumerate((5.0, 6.0)):  # the parent's 12 g already hold these trials
        trial = hand_record(
            f"trial-{index}", RunKind.TRAIN, "FINISHED", f"2026-11-04T1{index + 1}:00:00+00:00", 0.012, grams,
            parent_run_id=sweep.run_id, storage_bytes=2000,
        )  # fmt: skip
        write_run(trial, tracking_uri=uri)
    serve = hand_record(
        "serve", RunKind.SERVE, "FINISHED", "2026-11-10T10:00:00+00:00", 0.005, 1.5,
        embodied_gco2eq=0.5, requests=1000,
    )  # fmt: skip
    write_run(serve.model_copy(update={"experiment": "serving"}), tracking_uri=uri)
    write_run(
        hand_record("bench", RunKind.INFER, "FINISHED", "2026-11-11T10:00:00+00:00", 0.001, 0.25), tracking_uri=uri
    )
    return uri


def run_json(uri: str, *args: str) -> dict:
    result = runner.invoke(app, ["footprint", "--tracking-uri", uri, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def out(ledger: str) -> dict:
    """`greentune footprint --json` over the whole ledger (read once: MLflow reads are slow on a busy machine)."""
    return run_json(ledger)


def test_sums_every_record_once(out: dict) -> None:
    total = out["total"]
    # baseline + killed + failed + sweep parent (not its trials) + serve + bench
    assert total["runs"] == 6
    assert total["energy_kwh"] == pytest.approx(0.010 + 0.004 + 0.002 + 0.030 + 0.005 + 0.001)
    assert total["emissions_gco2eq"] == pytest.approx(4.0 + 1.5 + 0.5 + 12.0 + 1.5 + 0.25)
    assert total["embodied_gco2eq"] == pytest.approx(1.0 + 3.0 + 0.5)
    assert total["cost_usd"] == pytest.approx(0.08)
    assert total["storage_bytes"] == 5000
    lines = {(line["kind"], line["status"]): line for line in out["lines"]}
    assert set(lines) == {
        ("train", "FAILED"),
        ("train", "FINISHED"),
        ("train", "KILLED"),
        ("sweep", "FINISHED"),
        ("serve", "FINISHED"),
        ("infer", "FINISHED"),
    }
    assert lines[("train", "KILLED")]["emissions_gco2eq"] == 1.5
    assert lines[("sweep", "FINISHED")]["runs"] == 1
    assert out["data_preparation_kwh"] == pytest.approx(0.001)


def test_functional_units_and_breakeven(out: dict) -> None:
    # training = (4 + 1) + 1.5 + 0.5 + (12 + 3) = 22 g over 2 finished models (baseline, the sweep)
    assert out["training_gco2eq"] == pytest.approx(22.0)
    assert out["models"] == 2
    assert out["sci_per_model_gco2eq"] == pytest.approx(11.0)
    # serving: 2 g for 1,000 summaries → 2 g per 1,000; 11,000 summaries equal training, 11,001 outweigh it
    assert out["summaries_served"] == 1000
    assert out["sci_per_1000_summaries_gco2eq"] == pytest.approx(2.0)
    assert out["breakeven_summaries"] == 11001


def test_timeline_is_cumulative_in_end_order(out: dict) -> None:
    points = out["timeline"]
    assert [p["run_name"] for p in points] == ["baseline", "killed", "failed", "sweep", "serve", "bench"]
    assert [p["total_gco2eq"] for p in points] == pytest.approx([5.0, 6.5, 7.0, 22.0, 24.0, 24.25])
    assert [p["operational_gco2eq"] for p in points] == pytest.approx([4.0, 5.5, 6.0, 18.0, 19.5, 19.75])
    assert [p["embodied_gco2eq"] for p in points] == pytest.approx([1.0, 1.0, 1.0, 4.0, 4.5, 4.5])
    last, total = points[-1], out["total"]
    assert (last["energy_kwh"], last["operational_gco2eq"], last["embodied_gco2eq"]) == (
        total["energy_kwh"],
        total["emissions_gco2eq"],
        total["embodied_gco2eq"],
    )


def test_trials_count_when_their_sweep_is_left_out(ledger: str) -> None:
    since = project_footprint(read_runs(ledger), parse_since("2026-11-04T11:00"))
    assert [p.run_name for p in since.timeline] == ["trial-0", "trial-1", "serve", "bench"]
    sweep = next(line for line in since.lines if line.kind == "sweep")
    assert sweep.emissions_gco2eq == pytest.approx(11.0)
    assert since.models == 0 and since.sci_per_model_gco2eq is None
    assert 'id="plot-footprint-timeline"' in render_html(since)


def test_one_experiment_and_the_markdown_section(ledger: str, tmp_path: Path) -> None:
    args = ["footprint", "--tracking-uri", ledger, "--experiment", "proj", "--out", str(tmp_path / "f.md")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "SCI per fine-tuned model: 11.0 gCO2eq" in result.output
    assert "serving outweighs" not in result.output  # the serving session is in experiment 'serving'
    markdown = (tmp_path / "f.md").read_text()
    assert "| total | all | 5 | 0.0470 | 18.2 | 4.00 | $0.0800 | 0 MiB |" in markdown


def test_breakeven_sentence(out: dict) -> None:
    assert "After 11,001 summaries, serving outweighs training (1,000 served so far)." in summary_lines(
        Footprint.model_validate(out)
    )


def test_bad_since_is_one_line() -> None:
    result = runner.invoke(app, ["footprint", "--since", "last tuesday"])
    assert "--since must be an ISO date" in str(result.exception)


def test_an_experiment_given_twice_is_counted_once(ledger: str) -> None:
    once = run_json(ledger, "--experiment", "proj")
    twice = run_json(ledger, "--experiment", "proj", "--experiment", "proj")
    assert twice["total"] == once["total"]
    assert (twice["total"]["runs"], twice["total"]["energy_kwh"]) == (5, pytest.approx(0.047))


def test_an_experiment_without_runs_is_named_in_a_note(ledger: str) -> None:
    # a typo in -e passed for an experiment that cost nothing
    result = runner.invoke(app, ["footprint", "--tracking-uri", ledger, "-e", "proj", "-e", "porj", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == "note: no runs in experiment 'porj'\n"
    assert json.loads(result.stdout)["total"] == run_json(ledger, "--experiment", "proj")["total"]
