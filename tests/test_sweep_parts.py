"""The sweep's pure parts: spec validation, the budget gate, the footprint (idle, waste, energy-to-target, best)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.errors import GreentuneError
from greentune.ledger import RunRecord, RunStatus, TrialInfo, TrialReport, TrialStatus, read_runs, write_run
from greentune.sweep.budget import BudgetGate, Cost, Limits
from greentune.sweep.footprint import (
    CounterPoint,
    FootprintRequest,
    Idle,
    Interval,
    energy_to_target,
    footprint_lines,
    idle_between,
    sweep_footprint,
)
from greentune.sweep.spec import load_sweep, validate_sweep
from greentune.sweep.trial import PausedExploit, mark_exploited
from greentune.sweep.tune import _mutation, _record_paused_exploits
from tiny_models import tiny_spec_dict


def _sweep(tmp_path: Path, **sections: object) -> dict[str, object]:
    return {
        "name": "t",
        "base": tiny_spec_dict(tmp_path),
        "space": {"train.learning_rate": {"grid": [1e-3]}},
        **sections,
    }


# --- spec ---------------------------------------------------------------------------------------


def test_a_misspelt_space_key_fails_before_any_trial(tmp_path: Path) -> None:
    raw = _sweep(tmp_path, space={"train.learnin_rate": {"choice": [1e-3]}})
    with pytest.raises(
        GreentuneError, match=r"space.train.learnin_rate value 0.001 is not valid: .*unknown key 'train.learnin_rate'"
    ):
        validate_sweep(raw)


def test_every_choice_value_and_both_range_ends_are_validated(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match=r"space.train.learning_rate value -1 is not valid"):
        validate_sweep(_sweep(tmp_path, space={"train.learning_rate": {"choice": [1e-3, -1]}}))
    with pytest.raises(GreentuneError, match=r"space.train.warmup_ratio value 1.5 is not valid"):
        validate_sweep(_sweep(tmp_path, space={"train.warmup_ratio": {"uniform": [0.0, 1.5]}}))


def test_distribution_and_algorithm_rules(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match="exactly one of choice, grid, uniform, loguniform"):
        validate_sweep(_sweep(tmp_path, space={"train.learning_rate": {"choice": [1e-3], "grid": [1e-4]}}))
    with pytest.raises(GreentuneError, match="loguniform needs low > 0"):
        validate_sweep(_sweep(tmp_path, space={"train.learning_rate": {"loguniform": [0.0, 1e-3]}}))
    with pytest.raises(GreentuneError, match="grid cannot be used with optuna"):
        validate_sweep(_sweep(tmp_path, search={"algorithm": "optuna"}))
    with pytest.raises(GreentuneError, match="a grid search needs choice or grid values"):
        validate_sweep(
            _sweep(tmp_path, search={"algorithm": "grid"}, space={"train.learning_rate": {"uniform": [1e-4, 1e-3]}})
        )
    with pytest.raises(GreentuneError, match="scheduler.mutations: 'train.seed' is not a key of space"):
        validate_sweep(_sweep(tmp_path, scheduler={"kind": "pbt", "mutations": ["train.seed"]}))


def test_pbt_needs_every_trial_in_its_population_and_mutates_choices_as_lists(tmp_path: Path) -> None:
    pbt = {"kind": "pbt", "metric": "eval_loss"}
    space = {"train.learning_rate": {"grid": [1e-3, 1e-4]}, "strategies.freeze": {"choice": ["none", "embeddings"]}}
    with pytest.raises(
        GreentuneError,
        match=r"scheduler pbt: search.max_concurrent \(1\) must be at least the number of trials \(6\)",
    ):  # 3 samples x a 2-value grid
        validate_sweep(_sweep(tmp_path, space=space, scheduler=pbt, search={"num_samples": 3}))
    sweep = validate_sweep(_sweep(tmp_path, space=space, scheduler=pbt, search={"num_samples": 3, "max_concurrent": 6}))
    assert (sweep.trial_count(), sweep.scheduler.synch) == (6, True)
    assert _mutation(sweep.space["strategies.freeze"]) == ["none", "embeddings"]  # shifted or resampled, never x 1.2
    assert _mutation(sweep.space["train.learning_rate"]) == [1e-3, 1e-4]


def test_every_example_sweep_loads() -> None:
    examples = sorted((Path(__file__).resolve().parents[1] / "examples").glob("sweep-*.yaml"))
    loaded = {path.stem: load_sweep(path) for path in examples}
    assert {name: sweep.scheduler.kind.value for name, sweep in loaded.items()} == {
        "sweep-aclsum-asha": "asha",
        "sweep-aclsum-pbt": "pbt",
    }


def test_a_segment_pbt_exploited_while_paused_is_recorded_as_exploited_by_its_donor() -> None:
    paused = TRIALS[0].model_copy(
        update={
            "status": RunStatus.KILLED,
            "notes": [
                "measured",
                "sweep trial paused at epoch 1 (PBT: waits for its turn or the other trials)",
            ],
            "trial": TrialInfo(trial_id="b", segment=2, status=TrialStatus.PAUSED, stopped_at_epoch=1.0),
        }
    )
    exploited = mark_exploited(paused, PausedExploit(trial_id="b", donor_trial_id="a", epoch=1.0))
    assert exploited.trial is not None
    assert (exploited.trial.status, exploited.trial.donor_trial_id, exploited.trial.segment) == (
        TrialStatus.EXPLOITED,
        "a",
        2,
    )
    assert exploited.notes == ["measured", "sweep trial exploited at epoch 1 (by PBT from trial a, while paused)"]
    assert exploited.status == "KILLED" and exploited.energy_kwh == paused.energy_kwh


def test_the_sweep_rewrites_in_the_ledger_the_segment_pbt_exploited_while_paused(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    note = "sweep trial paused at epoch 1 (PBT: waits for its turn or the other trials)"
    paused = [
        write_run(
            TRIALS[0].model_copy(
                update={
                    "status": RunStatus.KILLED,
                    "notes": [note],
                    "trial": TrialInfo(
                        trial_id="b", segment=segment, status=TrialStatus.PAUSED, stopped_at_epoch=epoch
                    ),
                }
            ),
            tracking_uri=uri,
        )
        for segment, epoch in ((1, 1.0), (2, 2.0))
    ]
    _record_paused_exploits([PausedExploit(trial_id="b", donor_trial_id="a", epoch=2.0)], uri, "sweep-test", "parent")

    stored = {r.run_id: r for r in read_runs(tracking_uri=uri, experiment="sweep-test")}
    first, second = stored[paused[0].run_id], stored[paused[1].run_id]
    assert first.trial is not None and second.trial is not None
    assert (first.trial.status, first.trial.donor_trial_id, first.notes) == (TrialStatus.PAUSED, None, [note])
    assert (second.trial.status, second.trial.donor_trial_id, second.status) == (TrialStatus.EXPLOITED, "a", "KILLED")
    assert second.notes == ["sweep trial exploited at epoch 2 (by PBT from trial a, while paused)"]


def test_a_base_given_as_a_path_is_read_beside_the_sweep_file_and_options_override(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny_spec_dict(tmp_path)))
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({"base": "base.yaml", "space": {"train.learning_rate": {"choice": [1e-3]}}}))
    sweep = load_sweep(sweep_file, {"search.num_samples": 7, "budget.kwh": 0.5, "address": None})
    assert sweep.base_spec().model.name == "bart"
    assert (sweep.search.num_samples, sweep.budget.kwh, sweep.address) == (7, 0.5, None)
    assert sweep.trial_spec({"train.learning_rate": 3e-4}).train.learning_rate == 3e-4


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from greentune.cli.app import main; main()", "sweep", str(tmp_path / "nope.yaml")]
    missing = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == f"error: sweep file {tmp_path / 'nope.yaml'} not found; give the path of a sweep YAML (see examples/)"
    )
    bad_option = CliRunner().invoke(app, ["sweep", str(tmp_path / "nope.yaml"), "--scheduler", "hyperband"])
    assert bad_option.exit_code == 2 and "hyperband" in bad_option.output


def test_a_folder_as_the_sweep_file_or_its_base_is_called_a_folder(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError) as sweep_folder:
        load_sweep(tmp_path)
    assert str(sweep_folder.value) == f"{tmp_path} is a folder; give the path of a YAML file"
    (tmp_path / "base").mkdir()
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("base: base\nspace: {train.learning_rate: {choice: [0.001]}}\n")
    with pytest.raises(GreentuneError) as base_folder:
        load_sweep(sweep_file)
    assert str(base_folder.value) == f"{tmp_path / 'base'} is a folder; give the path of a YAML file"


# --- budget -------------------------------------------------------------------------------------


def _price(energy_kwh: float, duration_s: float) -> Cost:
    return Cost(energy_kwh, energy_kwh * 100.0, duration_s / 3600.0 * 2.0)


def test_budget_projects_a_new_trial_from_the_reported_ones() -> None:
    # trial a: 0.25 kWh after epoch 1 of 2 -> 0.25 kWh/epoch; its last epoch (0.25) + a new 2-epoch trial (0.5)
    gate = BudgetGate(Limits(kwh=1.0), _price)
    assert gate.may_launch()  # nothing reported: launch
    gate.update("a", energy_kwh=0.25, duration_s=900.0, epoch=1.0, epochs_budget=2.0)
    assert gate.may_launch()  # 0.25 + 0.25 + 0.5 = 1.0, not past 1.0
    tight = BudgetGate(Limits(kwh=0.75), _price)
    tight.update("a", energy_kwh=0.25, duration_s=900.0, epoch=1.0, epochs_budget=2.0)
    assert not tight.may_launch()
    gate.finish("a")  # a ended after epoch 1 (e.g. pruned): no rest to project
    assert gate.may_launch()


def test_budget_adds_a_pbt_trials_segments() -> None:
    # segment 1 reports 0.25 kWh / 900 s at epoch 1; segment 2 (after a pause or exploit) counts from zero again
    gate = BudgetGate(Limits(kwh=1.0), _price)
    gate.update("a", energy_kwh=0.25, duration_s=900.0, epoch=1.0, epochs_budget=3.0, segment=1)
    gate.update("a", energy_kwh=0.125, duration_s=400.0, epoch=2.0, epochs_budget=3.0, segment=2)
    assert gate.spent() == _price(0.375, 1300.0)
    gate.update("a", energy_kwh=0.25, duration_s=800.0, epoch=3.0, epochs_budget=3.0, segment=2)
    assert gate.spent() == _price(0.5, 1700.0)  # the same segment's reports are cumulative: 0.25 + 0.25
    gate.update("a", energy_kwh=0.5, duration_s=100.0, epoch=3.0, epochs_budget=3.0, segment=3)
    assert gate.reached() == "kWh"  # 0.5 + 0.5


def test_budget_is_reached_in_any_unit_and_says_which() -> None:
    gate = BudgetGate(Limits(gco2=50.0, usd=10.0), _price)
    gate.update("a", energy_kwh=0.25, duration_s=3600.0, epoch=1.0, epochs_budget=2.0)
    assert gate.reached() is None  # 25 g, $2
    gate.update("b", energy_kwh=0.25, duration_s=3600.0, epoch=1.0, epochs_budget=2.0)
    assert gate.reached() == "gCO2eq"  # 50 g reached
    gate.stopped, gate.not_launched = 1, 2
    grams, dollars = gate.outcome()
    assert (grams.unit, grams.limit, grams.spent, grams.reached) == ("gCO2eq", 50.0, 50.0, True)
    assert (dollars.unit, dollars.spent, dollars.reached) == ("USD", 4.0, False)
    assert (grams.trials_stopped, grams.trials_not_launched) == (1, 2)


# --- footprint ----------------------------------------------------------------------------------


def test_idle_is_the_time_no_trial_ran_and_the_counter_rise_in_it() -> None:
    points = [CounterPoint(0.0, 0.0), CounterPoint(10.0, 100.0), CounterPoint(20.0, 300.0)]
    idle = idle_between(points, [Interval(2.0, 5.0), Interval(4.0, 8.0)], Interval(0.0, 20.0))
    # gaps [0, 2] and [8, 20]: 14 s; counter 0→20 J and 80→300 J: 240 J
    assert idle.duration_s == 14.0
    assert idle.energy_kwh == pytest.approx(240.0 / 3.6e6, rel=1e-12)


def _trial(
    name: str, start: str, kwh: float, status: TrialStatus, reports: list[TrialReport], rouge1: float | None
) -> RunRecord:
    return RunRecord(
        run_id=f"id-{name}",
        run_name=name,
        experiment="sweep-test",
        status="FINISHED",
        start_time=start,
        model_name="bart",
        dataset_name="aclsum",
        hardware="cpu: test x2",
        duration_s=10.0,
        energy_kwh=kwh,
        location="DE",
        intensity_gco2eq_per_kwh=400.0,
        pue=1.0,
        emissions_gco2eq=kwh * 400.0,
        rouge={"rouge1": rouge1} if rouge1 is not None else {},
        eval_history=[{"epoch": r.epoch, "rouge1": r.rouge1} for r in reports],
        parent_run_id="parent",
        trial=TrialInfo(trial_id=name, status=status, config={"train.learning_rate": kwh}, reports=reports),
    )


TRIALS = [
    _trial(
        "a",
        "2026-12-01T10:01:00+00:00",
        0.5,
        TrialStatus.FINISHED,
        [TrialReport(epoch=1, energy_kwh=0.25, rouge1=12.0), TrialReport(epoch=2, energy_kwh=0.5, rouge1=20.0)],
        20.0,
    ),
    _trial(
        "b",
        "2026-12-01T10:00:00+00:00",
        0.25,
        TrialStatus.PRUNED,
        [TrialReport(epoch=1, energy_kwh=0.25, rouge1=5.0)],
        5.0,
    ),
    _trial("c", "2026-12-01T10:02:00+00:00", 0.125, TrialStatus.FAILED, [], None),
]


def test_footprint_totals_waste_best_and_energy_to_target() -> None:
    footprint = sweep_footprint(
        FootprintRequest(
            algorithm="random",
            scheduler="asha",
            metric="rouge1",
            trials=TRIALS,
            idle=Idle(30.0, 0.125),
            target_rouge1=15.0,
        )
    )
    assert footprint.trials_kwh == 0.875 and footprint.idle_kwh == 0.125
    assert footprint.wasted_kwh == 0.375  # pruned b + failed c
    assert footprint.wasted_share == 0.375  # of the 1.0 kWh total
    assert footprint.energy_to_target_kwh == 0.75  # b (started first) in full + a up to its epoch-2 report
    assert (footprint.best_run_id, footprint.best_energy_kwh, footprint.best_rouge1) == ("id-a", 0.5, 20.0)
    assert [t.trial_id for t in footprint.trials] == ["b", "a", "c"]
    assert energy_to_target(sorted(TRIALS, key=lambda r: r.start_time), 25.0) is None


def test_footprint_lines_show_total_waste_and_best(tmp_path: Path) -> None:
    footprint = sweep_footprint(
        FootprintRequest(
            algorithm="grid",
            scheduler="none",
            metric="rouge1",
            trials=TRIALS,
            idle=Idle(30.0, 0.125),
            target_rouge1=None,
        )
    )
    parent = TRIALS[0].model_copy(
        update={"run_name": "s", "energy_kwh": 1.0, "emissions_gco2eq": 400.0, "trial": None, "sweep": footprint}
    )
    lines = footprint_lines(parent)
    assert lines[0].startswith(
        "sweep s (grid + none): 3 trial runs (1 pruned, 1 finished, 1 failed); total 1 kWh = trials 0.875 + idle 0.125"
    )
    assert lines[1] == "  wasted on trials thrown away: 0.375 kWh (37.5 % of the total)"
    assert (
        lines[2] == "  best configuration (train.learning_rate=0.5): ROUGE-1 20.0, 0.5 kWh alone, 50.0 % of the search"
    )
