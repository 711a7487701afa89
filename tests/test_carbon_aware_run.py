"""`greentune run --carbon-aware fs|pr` on a simulated clock, as a user runs it, on a hand-made intensity series.

The series (hourly, from 2021-01-04 00:00 UTC) is built so that the plans are
known in advance: a 4 h job with an 8 h window runs Pause & Resume in
00–01 h and 05–08 h (100 g/kWh, 500 between); with a 12 h window Flexible
Start waits until 12 h (50 g/kWh). The tiny model trains 16 optimizer steps
(16 pairs, batch 2, 2 epochs of 8 steps), so one simulated hour is 4 steps
and the pause falls in the middle of the first epoch.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from greentune.cli.app import app
from tiny_models import tiny_spec_dict, tiny_tracking_uri

GREENTUNE = str(Path(sys.executable).with_name("greentune"))
HOURLY_G_PER_KWH = [100, 500, 500, 500, 500, 100, 100, 100, 500, 500, 500, 500, 50, 50, 50, 50] + [500] * 8
SERIES_START = datetime.fromisoformat("2021-01-04T00:00:00+00:00")
TOLERANCE_LOSS = 1e-6  # a resume without the RNG state or the data position moved the final eval loss by ~1e-3

runner = CliRunner()


def _write_inputs(root: Path) -> tuple[Path, Path]:
    series = root / "series.csv"
    rows = ["timestamp,intensity_gco2eq_per_kwh,kind,source"]
    rows += [
        f"{(SERIES_START + timedelta(hours=hour)).isoformat()},{value},average,hand-made test series"
        for hour, value in enumerate(HOURLY_G_PER_KWH)
    ]
    series.write_text("\n".join(rows) + "\n")
    raw = tiny_spec_dict(root, experiment="carbon-aware")
    raw["data"]["max_train_samples"] = 16
    raw["strategies"]["batch_size"] = 2
    raw["train"].update(epochs=2, save_checkpoints=True)
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(raw))
    return spec, series


def _records(root: Path) -> dict[str, dict]:
    listed = runner.invoke(app, ["runs", "--json", "--tracking-uri", tiny_tracking_uri(root)])
    assert listed.exit_code == 0, listed.output
    return {record["run_name"]: record for record in json.loads(listed.output)}


def _last_global_step(root: Path, run_name: str) -> int:
    folder = root / "ledger" / "checkpoints" / "carbon-aware" / run_name
    last = max(folder.glob("checkpoint-*"), key=lambda path: int(path.name.split("-")[1]))
    return json.loads((last / "trainer_state.json").read_text())["global_step"]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One P&R run, one FS run, the uninterrupted run with the same seed, and one with another seed."""
    root = tmp_path_factory.mktemp("carbon-aware")
    spec, series = _write_inputs(root)
    common = [
        "--clock",
        "simulated",
        "--at",
        "2021-01-04T00:00Z",
        "--source",
        f"csv:{series}",
        "--region",
        "DE",
        "--expected-duration",
        "4h",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        for args in (
            ["--set", "ledger.run_name=pr", "--carbon-aware", "pr", "--window", "8h", *common],
            ["--set", "ledger.run_name=fs", "--carbon-aware", "fs", "--window", "12h", *common],
            ["--set", "ledger.run_name=uninterrupted"],
            ["--set", "ledger.run_name=other-seed", "--set", "train.seed=7"],
        ):
            result = runner.invoke(app, ["run", str(spec), *args], env={"COLUMNS": "200"})
            assert result.exit_code == 0, result.output
    return root


@pytest.mark.slow
def test_pause_and_resume_follows_the_plan_and_loses_nothing(ledger: Path) -> None:
    records = _records(ledger)
    paused, plain = records["pr"], records["uninterrupted"]
    entry = paused["carbon_aware"]
    assert entry["mode"] == "pr" and entry["clock"] == "simulated" and entry["kind"] == "average"
    planned = [(segment["start"], segment["end"]) for segment in entry["plan"]["segments"]]
    assert planned == [
        ("2021-01-04T00:00:00+00:00", "2021-01-04T01:00:00+00:00"),
        ("2021-01-04T05:00:00+00:00", "2021-01-04T08:00:00+00:00"),
    ]
    executed = [(segment["start"], segment["end"]) for segment in entry["segments"]]
    assert executed == planned  # 4 steps per simulated hour: segments of 4 and 12 steps, no overshoot
    steps = [segment["steps"] for segment in entry["segments"]]
    assert steps == [4, 12] and sum(steps) == _last_global_step(ledger, "uninterrupted") == 16
    assert _last_global_step(ledger, "pr") == 16
    assert all(segment["energy_kwh"] > 0 for segment in entry["segments"])

    paused_losses = [evaluation["eval_loss"] for evaluation in paused["eval_history"]]
    plain_losses = [evaluation["eval_loss"] for evaluation in plain["eval_history"]]
    other_seed = records["other-seed"]["eval_history"][-1]["eval_loss"]
    assert len(paused_losses) == len(plain_losses) == 2  # no extra evaluation at the mid-epoch pause
    assert paused_losses == pytest.approx(plain_losses, abs=TOLERANCE_LOSS)
    assert abs(other_seed - plain_losses[-1]) > 100 * TOLERANCE_LOSS  # the comparison can tell runs apart


@pytest.mark.slow
def test_realised_emissions_are_the_runs_timeline_on_the_series_against_running_now(ledger: Path) -> None:
    record = _records(ledger)["pr"]
    entry, energy_kwh = record["carbon_aware"], record["energy_kwh"]
    pue = entry["plan"]["pue"]
    # every slot the run touched is a 100 g/kWh hour: loading at 00:00, 00–01 h, the checkpoint at 01:00,
    # 05–08 h, the final evaluation at 08:00
    assert [segment["mean_intensity_gco2eq_per_kwh"] for segment in entry["segments"]] == pytest.approx([100, 100])
    assert entry["realised_gco2eq"] == record["emissions_gco2eq"] == pytest.approx(energy_kwh * 100 * pue)
    first, second = (segment["energy_kwh"] for segment in entry["segments"])
    load = next(phase["energy_kwh"] for phase in record["phases"] if phase["name"] == "load")
    # run now: loading and the first segment at 00–01 h (100 g/kWh); the second segment's steps at 01–04 h
    # (500), its resume and the final evaluation at 01:00 or 04:00 — so at most everything after the first at 500
    assert energy_kwh * 100 * pue < entry["counterfactual_gco2eq"]
    assert entry["counterfactual_gco2eq"] <= pue * ((load + first) * 100 + (energy_kwh - load - first) * 500) + 1e-12
    assert second > 0
    assert entry["savings_pct"] == pytest.approx(100 * (1 - entry["realised_gco2eq"] / entry["counterfactual_gco2eq"]))


@pytest.mark.slow
def test_flexible_start_starts_at_the_planned_time(ledger: Path) -> None:
    record = _records(ledger)["fs"]
    entry = record["carbon_aware"]
    assert entry["plan"]["start"] == "2021-01-04T12:00:00+00:00"
    [segment] = entry["segments"]
    assert segment["start"] == entry["plan"]["start"] and segment["end"] == "2021-01-04T16:00:00+00:00"
    assert segment["steps"] == 16 and segment["mean_intensity_gco2eq_per_kwh"] == pytest.approx(50)
    pue = entry["plan"]["pue"]
    assert record["emissions_gco2eq"] == pytest.approx(record["energy_kwh"] * 50 * pue)  # 12–16 h: all at 50
    assert record["energy_kwh"] * 100 * pue < entry["counterfactual_gco2eq"] < record["energy_kwh"] * 500 * pue


@pytest.mark.slow
def test_one_emissions_figure_in_runs_report_card_emissions_csv_and_summary(ledger: Path) -> None:
    """Issue 17's acceptance: the carbon-aware run's time-resolved figure everywhere, the annual average beside it."""
    from greentune.carbon import resolve_site

    uri = tiny_tracking_uri(ledger)
    record = _records(ledger)["pr"]
    grams = record["emissions_gco2eq"]
    assert (
        record["emissions_method"] == "time-resolved: hand-made test series" and record["intensity_kind"] == "average"
    )
    assert record["location"] == "DE"  # the site followed --region
    germany = resolve_site("DE").intensity_gco2eq_per_kwh
    assert record["annual_average_intensity_gco2eq_per_kwh"] == germany
    assert record["annual_average_emissions_gco2eq"] == pytest.approx(record["energy_kwh"] * record["pue"] * germany)
    assert record["carbon_aware"]["realised_gco2eq"] == grams
    assert sum(phase["emissions_gco2eq"] for phase in record["phases"] if phase["name"] in ("load", "train")) <= grams

    with (Path(record["artifact_dir"]) / "emissions.csv").open() as handle:
        [row] = list(csv.DictReader(handle))
    assert float(row["emissions"]) * 1000 == pytest.approx(grams, rel=1e-12)

    report = runner.invoke(app, ["report", "--format", "json", "--runs", "pr", "--tracking-uri", uri])
    assert report.exit_code == 0, report.output
    built = json.loads(report.stdout[report.stdout.index("{") :])
    assert built["runs"][0]["emissions_gco2eq"] == grams and built["total_emissions_gco2eq"] == grams
    assert built["whatif"]["here_emissions_gco2eq"] == grams
    assert built["runs"][0]["emissions_method"] == record["emissions_method"]

    card_path = ledger / "card.md"
    card = runner.invoke(app, ["card", "pr", "--out", str(card_path), "--tracking-uri", uri])
    assert card.exit_code == 0, card.output
    metadata = yaml.safe_load(card_path.read_text().split("---")[1])
    assert metadata["co2_eq_emissions"]["emissions"] == float(f"{grams:.6g}")
    assert "method: time-resolved: hand-made test series" in metadata["co2_eq_emissions"]["source"]

    table = runner.invoke(app, ["runs", "--tracking-uri", uri], env={"COLUMNS": "200"})
    assert f"realised {grams:.3f} gCO2eq" in table.output and f" {grams:.3g} " in table.output


@pytest.mark.slow
def test_a_run_without_a_series_keeps_the_annual_average_and_says_so(ledger: Path) -> None:
    record = _records(ledger)["uninterrupted"]
    assert record["emissions_method"].startswith("annual average: ")
    assert record["emissions_gco2eq"] == record["annual_average_emissions_gco2eq"]
    assert record["emissions_gco2eq"] == pytest.approx(
        record["energy_kwh"] * record["pue"] * record["intensity_gco2eq_per_kwh"]
    )
    assert all(phase["emissions_gco2eq"] is None for phase in record["phases"])


@pytest.mark.slow
def test_runs_shows_realised_against_counterfactual(ledger: Path) -> None:
    records = _records(ledger)
    assert records["uninterrupted"]["carbon_aware"] is None
    assert {"realised_gco2eq", "counterfactual_gco2eq", "savings_pct", "segments", "plan"} <= set(
        records["pr"]["carbon_aware"]
    )
    table = runner.invoke(app, ["runs", "--tracking-uri", tiny_tracking_uri(ledger)], env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "carbon-aware pr: PR, 2 segment(s) on a simulated clock, realised" in table.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-duration", "2h"], "is shorter than the job"),
        (["--window", "48h"], "but 2021-01-04T00:00:00+00:00 to 2021-01-06T04:00:00+00:00 was asked for"),
        (["--region", "XX", "--source", "entsoe", "--at", "2020-06-01T00:00"], "no ENTSO-E data for region 'XX'"),
        (["--source", "somewhere"], "unknown source 'somewhere'"),
        (
            ["--clock", "real", "--source", "entsoe", "--at", "2020-06-01T00:00"],
            "the deadline 2020-06-01T12:00+02:00 has passed",
        ),
        ([], "give --expected-duration"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    spec, series = _write_inputs(tmp_path)
    options = {
        "--clock": "simulated",
        "--at": "2021-01-04T00:00Z",
        "--source": f"csv:{series}",
        "--region": "DE",
        "--expected-duration": "4h",
        "--window": "8h",
    }
    if not args:  # no duration given and no earlier run of the spec in the ledger
        del options["--expected-duration"]
    for flag, value in zip(args[::2], args[1::2], strict=True):
        options[flag] = value
    command = [
        GREENTUNE,
        "run",
        str(spec),
        "--carbon-aware",
        "pr",
        *[item for pair in options.items() for item in pair],
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr


@pytest.mark.slow
def test_without_expected_duration_the_plan_uses_the_last_run_of_the_spec(ledger: Path) -> None:
    from greentune.finetune.carbon_aware import expected_duration
    from greentune.finetune.spec import load_spec

    spec = load_spec(ledger / "tiny.yaml", ["ledger.run_name=uninterrupted"])
    estimate = expected_duration(spec, None)
    measured = _records(ledger)["uninterrupted"]
    assert estimate.duration_s == measured["duration_s"] and estimate.power_w == measured["avg_power_w"]
    assert estimate.method.startswith("measured: run ") and expected_duration(spec, "2h").duration_s == 7200
