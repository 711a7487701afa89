"""PBT on a local Ray (num_cpus=2) with the tiny model: the exploited trial goes on from the donor's checkpoint.

Two trials run at once (one CPU each). Synchronous PBT pauses each at the end of
epoch 1 until both are there; then the worse one is exploited: it continues from
the better one's epoch-1 checkpoint with the better one's config. On a shared,
loaded machine a Ray worker takes long to start (imports), hence the long timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from greentune.ledger import RunKind, RunRecord, TrialStatus, read_runs
from greentune.sweep.spec import validate_sweep
from greentune.sweep.tune import SweepRequest, init_ray, run_sweep
from tiny_models import tiny_spec_dict, tiny_tracking_uri


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Any:
    import ray

    init_ray(local_cpus=2)
    yield
    ray.shutdown()


def _segments(children: list[RunRecord], learning_rate: float) -> list[RunRecord]:
    """The records of the trial that started with `learning_rate`, segment by segment."""
    [first] = [
        r
        for r in children
        if r.trial and r.trial.segment == 1 and r.trial.config["train.learning_rate"] == learning_rate
    ]
    assert first.trial is not None
    mine = [r for r in children if r.trial and r.trial.trial_id == first.trial.trial_id]
    return sorted(mine, key=lambda r: r.trial.segment if r.trial else 0)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_pbt_exploit_restores_the_donors_checkpoint(tmp_path: Path) -> None:
    # lr 1e-3 lowers the eval loss in epoch 1; lr 1e-9 leaves it where it started, so the 1e-9 trial is exploited
    # after epoch 1. PBT's explore step resamples weight decay from [0.0]: the exploited trial takes the donor's
    # config unchanged, so its epoch 2 must repeat the donor's own epoch 2 exactly if, and only if, it goes on
    # from the donor's weights, trainer state and random state.
    base = tiny_spec_dict(tmp_path, "pbt")
    base["train"]["epochs"] = 2
    sweep = validate_sweep(
        {
            "name": "pbt",
            "base": base,
            "space": {"train.learning_rate": {"grid": [1e-3, 1e-9]}, "train.weight_decay": {"choice": [0.0]}},
            "search": {"algorithm": "grid", "num_samples": 1, "max_concurrent": 2},
            "scheduler": {
                "kind": "pbt",
                "metric": "eval_loss",
                "perturbation_interval": 1,
                "mutations": ["train.weight_decay"],
            },
        }
    )
    parent = run_sweep(SweepRequest(sweep=sweep))

    records = read_runs(tracking_uri=tiny_tracking_uri(tmp_path), experiment="pbt")
    children = [r for r in records if r.kind is RunKind.TRAIN and r.parent_run_id == parent.run_id]
    donor_first, donor_second = _segments(children, 1e-3)
    exploited, resumed = _segments(children, 1e-9)
    assert len(children) == 4
    donor_id = donor_first.trial.trial_id if donor_first.trial else ""
    assert donor_first.trial and donor_second.trial and exploited.trial and resumed.trial

    # the donor waited for the other trial at epoch 1 (paused), then went on from its own checkpoint
    assert (donor_first.trial.status, donor_first.trial.stopped_at_epoch) == (TrialStatus.PAUSED, 1.0)
    assert (donor_second.trial.status, donor_second.trial.donor_trial_id) == (TrialStatus.FINISHED, None)
    # the worse trial: its segment ends exploited by PBT, naming the donor, in the record and in its notes
    assert exploited.status == "KILLED"
    assert (exploited.trial.status, exploited.trial.stopped_at_epoch) == (TrialStatus.EXPLOITED, 1.0)
    assert exploited.trial.donor_trial_id == donor_id
    assert any(
        note.startswith(f"sweep trial exploited at epoch 1 (by PBT from trial {donor_id}") for note in exploited.notes
    )
    assert exploited.eval_history[0]["eval_loss"] > donor_first.eval_history[0]["eval_loss"]

    # ... and it resumes from the donor's epoch-1 checkpoint (global step 2: 8 pairs, batch 4), with its config
    assert resumed.trial.status is TrialStatus.FINISHED and resumed.trial.donor_trial_id == donor_id
    assert resumed.trial.restored_from == donor_second.trial.restored_from
    assert resumed.trial.restored_from is not None and donor_id in Path(resumed.trial.restored_from).parent.name
    assert resumed.trial.config == {"train.learning_rate": 1e-3, "train.weight_decay": 0.0}
    assert "resumed from checkpoint-2; time and energy cover this session only" in resumed.notes
    assert f"sweep trial started from trial {donor_id}'s checkpoint (PBT exploit)" in resumed.notes
    assert [r.epoch for r in resumed.trial.reports] == [2.0]
    # its history starts with the donor's epoch-1 evaluation, not its own
    assert resumed.eval_history[0] == donor_first.eval_history[0] != exploited.eval_history[0]
    # the donor's weights, trainer and random state, and config: epoch 2 is the donor's own epoch 2, to the bit
    assert resumed.eval_history[1]["epoch"] == donor_second.eval_history[1]["epoch"] == 2.0
    assert resumed.eval_history[1]["eval_loss"] == donor_second.eval_history[1]["eval_loss"]

    # the parent lists the donor; the exploited segment's energy is waste, a pause is not
    footprint = parent.sweep
    assert footprint is not None
    listed = {(t.trial_id, t.segment): t for t in footprint.trials}
    assert listed[(exploited.trial.trial_id, 1)].status is TrialStatus.EXPLOITED
    assert listed[(exploited.trial.trial_id, 1)].donor_trial_id == donor_id
    assert footprint.wasted_kwh == pytest.approx(exploited.energy_kwh, rel=1e-12)
    assert footprint.trials_kwh == pytest.approx(sum(r.energy_kwh for r in children), rel=1e-12)
