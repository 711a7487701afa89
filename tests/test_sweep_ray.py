"""Sweeps on a local Ray (num_cpus=2) with the tiny model: ASHA pruning, budgets, failures, the ledger round trip.

Trials run one at a time (max_concurrent=1): on this 2-core machine that is
also the fastest, and it keeps the order ASHA and the budget see fixed. On a
shared, loaded machine a Ray worker takes minutes to start (imports), hence
the long timeouts.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.ledger import RunKind, TrialStatus, read_runs
from greentune.sweep.interrupt import TUNE_SWITCH
from greentune.sweep.spec import validate_sweep
from greentune.sweep.tune import SweepRequest, init_ray, run_sweep
from tiny_models import tiny_spec_dict, tiny_tracking_uri


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Any:
    import ray

    init_ray(local_cpus=2)
    yield
    ray.shutdown()


def _base(root: Path, experiment: str) -> dict[str, Any]:
    base = tiny_spec_dict(root, experiment)
    base["train"]["epochs"] = 2
    return base


@pytest.mark.timeout(1500)
def test_asha_prunes_the_worse_trial_and_counts_its_energy(tmp_path: Path) -> None:
    # lr 1e-3 lowers the eval loss after epoch 1; lr 1e-9 leaves it where it started: ASHA (rung at epoch 1,
    # reduction factor 2) keeps the first trial and prunes the second at epoch 1 of 2.
    sweep = validate_sweep(
        {
            "name": "asha",
            "base": _base(tmp_path, "asha"),
            "space": {"train.learning_rate": {"grid": [1e-3, 1e-9]}},
            "search": {"algorithm": "grid", "num_samples": 1, "max_concurrent": 1},
            "scheduler": {"kind": "asha", "metric": "eval_loss", "grace_period": 1, "reduction_factor": 2},
        }
    )
    parent = run_sweep(SweepRequest(sweep=sweep))

    records = read_runs(tracking_uri=tiny_tracking_uri(tmp_path), experiment="asha")
    [stored_parent] = [r for r in records if r.kind is RunKind.SWEEP]
    children = sorted((r for r in records if r.kind is RunKind.TRAIN), key=lambda r: r.start_time)
    assert stored_parent.run_id == parent.run_id and stored_parent.sweep == parent.sweep
    assert [c.parent_run_id for c in children] == [parent.run_id, parent.run_id]
    assert [c.trial.status for c in children if c.trial] == [TrialStatus.FINISHED, TrialStatus.PRUNED]
    finished, pruned = children
    assert pruned.status == "KILLED" and pruned.trial is not None and pruned.trial.stopped_at_epoch == 1.0
    assert pruned.epochs_run == 1.0 and finished.epochs_run == 2.0
    assert finished.trial is not None and [r.epoch for r in finished.trial.reports] == [1.0, 2.0]
    assert pruned.trial.config == {"train.learning_rate": 1e-9}

    footprint = parent.sweep
    assert footprint is not None
    assert footprint.trials_kwh == pytest.approx(finished.energy_kwh + pruned.energy_kwh, rel=1e-12)
    assert parent.energy_kwh == pytest.approx(footprint.trials_kwh + footprint.idle_kwh, rel=1e-12)
    assert footprint.wasted_kwh == pytest.approx(pruned.energy_kwh, rel=1e-12)
    assert footprint.best_run_id == finished.run_id
    assert pruned.energy_kwh > 0 and footprint.idle_kwh > 0

    listed = CliRunner().invoke(app, ["runs", "--json", "--tracking-uri", tiny_tracking_uri(tmp_path)])
    assert listed.exit_code == 0, listed.output
    as_json = json.loads(listed.output)
    sweeps = [r for r in as_json if r["kind"] == "sweep"]
    assert len(sweeps) == 1 and [t["status"] for t in sweeps[0]["sweep"]["trials"]] == ["finished", "pruned"]
    assert sweeps[0]["sweep"]["wasted_kwh"] == pytest.approx(pruned.energy_kwh, rel=1e-12)


@pytest.mark.timeout(1500)
def test_a_failing_trial_is_recorded_and_the_budget_stops_the_sweep(tmp_path: Path) -> None:
    # d_model 33 is not divisible by the 2 attention heads: that trial fails while loading. The next trial is
    # launched (nothing reported yet to project from), reaches the 1e-9 kWh budget at its first report and is
    # stopped; the third is not launched.
    sweep = validate_sweep(
        {
            "name": "budget",
            "base": _base(tmp_path, "budget"),
            "space": {"model.config_overrides.d_model": {"grid": [33, 32, 16]}},
            "search": {"algorithm": "grid", "num_samples": 1, "max_concurrent": 1},
            "budget": {"kwh": 1e-9},
        }
    )
    parent = run_sweep(SweepRequest(sweep=sweep))

    footprint = parent.sweep
    assert footprint is not None
    assert [(t.config["model.config_overrides.d_model"], t.status) for t in footprint.trials] == [
        (33, TrialStatus.FAILED),
        (32, TrialStatus.STOPPED_BY_BUDGET),
    ]
    [budget] = footprint.budgets
    assert (budget.unit, budget.limit, budget.reached) == ("kWh", 1e-9, True)
    assert (budget.trials_stopped, budget.trials_not_launched) == (1, 1)
    children = [r for r in read_runs(tracking_uri=tiny_tracking_uri(tmp_path), experiment="budget") if r.trial]
    failed = next(r for r in children if r.trial and r.trial.status is TrialStatus.FAILED)
    assert failed.status == "FAILED" and any(
        n.startswith("failed: ValueError: embed_dim must be divisible by num_heads") for n in failed.notes
    )
    assert footprint.wasted_kwh == pytest.approx(sum(r.energy_kwh for r in children), rel=1e-12)
    assert "1 trial(s) failed; the sweep went on" in parent.notes


@pytest.mark.timeout(1500)
def test_ctrl_c_stops_the_trials_and_records_the_sweep_killed(tmp_path: Path) -> None:
    # Ray Tune's own SIGINT handler ended the search as if it were complete: the sweep was recorded FINISHED.
    runs = tmp_path / "ledger" / "runs"

    def press_ctrl_c_once_the_first_trial_runs() -> None:  # the Tuner runs then, with a trial still to come
        deadline = time.monotonic() + 1200
        while time.monotonic() < deadline and not any(runs.glob("*/meter.jsonl")):
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    sweep = validate_sweep(
        {
            "name": "interrupted",
            "base": _base(tmp_path, "ctrl-c"),
            "space": {"train.learning_rate": {"grid": [1e-3, 1e-4]}},
            "search": {"algorithm": "grid", "num_samples": 1, "max_concurrent": 1},
        }
    )
    threading.Thread(target=press_ctrl_c_once_the_first_trial_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(SweepRequest(sweep=sweep))

    records = read_runs(tracking_uri=tiny_tracking_uri(tmp_path), experiment="ctrl-c")
    [parent] = [r for r in records if r.kind is RunKind.SWEEP]
    assert parent.status == "KILLED"
    assert "interrupted by the user; trials recorded up to that point" in parent.notes
    [trial] = [r for r in records if r.kind is RunKind.TRAIN]  # the second trial was never started
    assert trial.trial is not None and trial.trial.status is TrialStatus.STOPPED and trial.status == "KILLED"
    assert os.environ.get(TUNE_SWITCH) is None and signal.getsignal(signal.SIGINT) is signal.default_int_handler
