"""PBT's exploit as a trial sees it: the donor's Trainer checkpoint copied in, training resumed from it."""

from __future__ import annotations

from pathlib import Path

from greentune.sweep.trial import restore_checkpoint
from tiny_models import run_tiny


def test_a_restored_checkpoint_is_where_the_runner_resumes_and_keeps_no_optimizer_state(tmp_path: Path) -> None:
    from ray.tune import Checkpoint

    donor = run_tiny(tmp_path, "donor", **{"train.save_checkpoints": True, "ledger.run_name": "donor"})
    home = tmp_path / "ledger"  # the tiny runs' files go beside their SQLite ledger
    donor_dir = home / "checkpoints" / "donor" / "donor" / "checkpoint-2"  # 8 samples / batch 4
    assert donor.status == "FINISHED" and (donor_dir / "optimizer.pt").is_file()

    target = home / "checkpoints" / "pbt" / "trial-s2"
    restored = restore_checkpoint(Checkpoint.from_directory(str(donor_dir)), target, home)
    assert restored == str(donor_dir)
    copied = target / "checkpoint-2"
    assert (copied / "trainer_state.json").is_file() and any(copied.glob("model.safetensors"))
    assert not (copied / "optimizer.pt").exists() and not (copied / "scheduler.pt").exists()

    resumed = run_tiny(
        tmp_path,
        "pbt",
        resume=True,
        **{"train.epochs": 2, "train.save_checkpoints": True, "ledger.run_name": "trial-s2"},
    )
    assert "resumed from checkpoint-2; time and energy cover this session only" in resumed.notes
    assert resumed.epochs_run == 2.0
    assert [entry["epoch"] for entry in resumed.eval_history] == [1.0, 2.0]  # the donor's epoch, then its own
    assert restore_checkpoint(None, target, home) is None
