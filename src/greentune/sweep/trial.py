"""One sweep trial inside a Ray worker: `finetune.run` with a callback that reports each evaluation to Ray Tune.

A trial must always write its child record, also when the sweep stops it.
Ray Tune stops a function trial by raising `SystemExit` inside `tune.report`
and then ending the worker — at the end of an experiment after only 10 s,
too little to write a record. So the sweep's scheduler does not ask Tune to
stop a trial it prunes or stops for the budget: it answers "continue" and
leaves the reason (pruned by ASHA at epoch k, stopped by the budget) in the
`Coordinator` actor; the report callback reads it after each report, stops
the Trainer, and the runner records the run with that status. PBT pauses a
trial through Tune itself (to exploit a better trial's checkpoint, or to share
the machine); then the callback catches the `SystemExit`, and the trainable's
`cleanup` waits until the record is written (`cooperative_trainable`). The
next segment starts from the checkpoint Tune hands it (`tune.get_checkpoint()`:
its own, or after an exploit the donor's, whom the `Coordinator` names).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from transformers import TrainerCallback

from greentune.ledger import RunKind, RunRecord, RunStatus, TrialInfo, TrialReport, TrialStatus
from greentune.paths import checkpoint_dir, home_for, make_owned_dir, remove_owned_dir
from greentune.sweep.spec import SweepSpec

if TYPE_CHECKING:
    from greentune.finetune.callback import GreenCallback

_WINDOW = "sweep-trial"
COORDINATOR_PREFIX = "greentune-sweep-"


@dataclass(frozen=True)
class StopRequest:
    """Why the sweep stopped a trial: its status (a `TrialStatus` value), at which epoch, and (PBT exploit) the donor."""

    status: str
    epoch: float | None
    detail: str | None = None
    donor_trial_id: str | None = None


@dataclass(frozen=True)
class PausedExploit:
    """Synchronous PBT replaced the weights of a trial that was paused (waiting for the others) with a donor's."""

    trial_id: str
    donor_trial_id: str
    epoch: float | None


def mark_exploited(record: RunRecord, exploit: PausedExploit) -> RunRecord:
    """The record of the segment that `exploit` ended, recorded as paused before PBT chose it: exploited instead."""
    assert record.trial is not None
    notes = [note for note in record.notes if not note.startswith(f"sweep trial {TrialStatus.PAUSED.value}")]
    notes.append(
        status_note(TrialStatus.EXPLOITED, exploit.epoch, f"by PBT from trial {exploit.donor_trial_id}, while paused")
    )
    trial = record.trial.model_copy(update={"status": TrialStatus.EXPLOITED, "donor_trial_id": exploit.donor_trial_id})
    return record.model_copy(update={"trial": trial, "notes": notes})


def status_note(status: TrialStatus, epoch: float | None, detail: str | None) -> str:
    """The note a trial's record carries about how the sweep ended it."""
    at = f" at epoch {epoch:g}" if epoch is not None else ""
    return f"sweep trial {status.value}{at}" + (f" ({detail})" if detail else "")


class Coordinator:
    """A small Ray actor on the driver's side: why each trial was stopped, PBT's donors, how many segments ran."""

    def __init__(self) -> None:
        self.reasons: dict[str, StopRequest] = {}
        self.donors: dict[str, str] = {}
        self.segments: dict[str, int] = {}

    def set_reason(
        self, trial_id: str, status: str, epoch: float | None, detail: str | None = None, donor: str | None = None
    ) -> None:
        """Record why `trial_id` is being stopped (the first reason wins until the trial takes it)."""
        self.reasons.setdefault(trial_id, StopRequest(status, epoch, detail, donor))

    def has_reason(self, trial_id: str) -> bool:
        """Whether the sweep wants `trial_id` to stop."""
        return trial_id in self.reasons

    def take_reason(self, trial_id: str) -> StopRequest | None:
        """The reason left for `trial_id`, removed (a PBT trial may be stopped again later)."""
        return self.reasons.pop(trial_id, None)

    def set_donor(self, trial_id: str, donor_trial_id: str) -> None:
        """PBT exploit: `trial_id` goes on from `donor_trial_id`'s checkpoint."""
        self.donors[trial_id] = donor_trial_id

    def take_donor(self, trial_id: str) -> str | None:
        """The donor whose checkpoint `trial_id`'s next segment starts from, removed; None: its own checkpoint."""
        return self.donors.pop(trial_id, None)

    def next_segment(self, trial_id: str) -> int:
        """1 for a trial's first run, 2 and up after each restore from a checkpoint."""
        self.segments[trial_id] = self.segments.get(trial_id, 0) + 1
        return self.segments[trial_id]


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs from the driver (pickled into the worker)."""

    sweep: SweepSpec
    parent_run_id: str
    tracking_uri: str
    coordinator_name: str
    checkpoint_every_epoch: bool


class TuneReportCallback(TrainerCallback):
    """After each evaluation: report metric, epoch and cumulative energy to Ray Tune; stop when Tune says so."""

    def __init__(
        self, green: GreenCallback, checkpoint_every_epoch: bool, epochs_budget: float, stop_asked: Any, segment: int
    ) -> None:
        """`stop_asked()` says whether the sweep has left a reason to stop this trial; `segment` counts its runs."""
        self._stop_asked = stop_asked
        self._segment = segment
        self._meter = green.meter
        self._checkpoint = checkpoint_every_epoch
        self._epochs_budget = epochs_budget
        self._energy_kwh = 0.0
        self._started_s = time.monotonic()
        self._pending: dict[str, float] | None = None
        self.reports: list[TrialReport] = []
        self.stopped_by_tune = False
        self._meter.begin_window(_WINDOW)
        self._window_open = True

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
        self._pending = dict(metrics or {})
        if not (self._checkpoint and control.should_save):
            self._report(state, control, None)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._pending is not None:
            self._report(state, control, Path(args.output_dir) / f"checkpoint-{state.global_step}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._window_open:  # close our window; the runner's `run` window goes on
            self._energy_kwh += self._meter.end_window(_WINDOW).energy_kwh
            self._window_open = False

    def _report(self, state: Any, control: Any, checkpoint_dir: Path | None) -> None:
        from ray import tune

        metrics, self._pending = self._pending or {}, None
        if self.stopped_by_tune:
            return
        self._energy_kwh += self._meter.end_window(_WINDOW).energy_kwh
        self._meter.begin_window(_WINDOW)
        epoch = float(state.epoch or 0.0)
        report = TrialReport(
            epoch=epoch,
            energy_kwh=self._energy_kwh,
            rouge1=metrics.get("eval_rouge1"),
            eval_loss=metrics.get("eval_loss"),
        )
        self.reports.append(report)
        result = {
            "epoch": epoch,
            "epochs_budget": self._epochs_budget,
            "segment": self._segment,
            "energy_kwh": self._energy_kwh,
            "duration_s": time.monotonic() - self._started_s,
            **({"rouge1": report.rouge1} if report.rouge1 is not None else {}),
            **({"eval_loss": report.eval_loss} if report.eval_loss is not None else {}),
        }
        checkpoint = None
        if checkpoint_dir is not None and checkpoint_dir.is_dir():
            checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir))
        try:
            tune.report(result, checkpoint=checkpoint)
        except SystemExit:  # Tune stops (PBT pauses) this trial: end training here so that the runner records it
            self._stop(control)
            from ray.train._internal.session import get_session

            session = get_session()
            if session is not None:
                session.pause_reporting()  # the function's final report must not block on a stopped trial
            return
        if self._stop_asked():
            self._stop(control)

    def _stop(self, control: Any) -> None:
        self.stopped_by_tune = True
        control.should_training_stop = True
        control.should_save = False


def run_trial(config: dict[str, Any], setup: TrialSetup) -> None:
    """The Ray Tune function trainable: fine-tune one configuration and record it as a child run."""
    import ray
    from ray import tune

    from greentune.finetune.runner import run

    trial_id = tune.get_context().get_trial_id() or "local"
    coordinator = ray.get_actor(setup.coordinator_name)
    segment = int(cast(Any, ray.get(coordinator.next_segment.remote(trial_id))))
    spec = setup.sweep.trial_spec(config)
    run_name = f"{setup.sweep.name}-{trial_id}" + (f"-s{segment}" if segment > 1 else "")
    spec = spec.model_copy(
        update={
            "ledger": spec.ledger.model_copy(
                update={"tracking_uri": setup.tracking_uri, "run_name": run_name, "experiment": spec.ledger.experiment}
            ),
            "train": spec.train.model_copy(
                update={"save_checkpoints": spec.train.save_checkpoints or setup.checkpoint_every_epoch}
            ),
        }
    )
    home = home_for(setup.tracking_uri)
    restored_from = restore_checkpoint(
        tune.get_checkpoint(), checkpoint_dir(home, spec.ledger.experiment, run_name), home
    )
    donor = cast(str | None, ray.get(coordinator.take_donor.remote(trial_id))) if restored_from else None
    reporters: list[TuneReportCallback] = []

    def callbacks(green: GreenCallback) -> list[Any]:
        def stop_asked() -> bool:
            return bool(ray.get(coordinator.has_reason.remote(trial_id)))

        reporters.append(
            TuneReportCallback(green, setup.checkpoint_every_epoch, spec.train.epochs, stop_asked, segment)
        )
        return reporters

    def amend(record: RunRecord) -> RunRecord:
        reporter = reporters[0] if reporters else None
        status, epoch, detail, exploited_by = TrialStatus.FINISHED, None, None, None
        if record.status == "FAILED":
            status = TrialStatus.FAILED
        elif record.status == "KILLED" or (reporter is not None and reporter.stopped_by_tune):
            reason = cast(StopRequest | None, ray.get(coordinator.take_reason.remote(trial_id)))
            if reason is None:
                status = TrialStatus.STOPPED
            else:
                status, epoch, detail = TrialStatus(reason.status), reason.epoch, reason.detail
                exploited_by = reason.donor_trial_id
        notes = list(record.notes)
        if donor is not None:
            notes.append(f"sweep trial started from trial {donor}'s checkpoint (PBT exploit)")
        if status is not TrialStatus.FINISHED:
            notes.append(status_note(status, epoch, detail))
        return record.model_copy(
            update={
                "kind": RunKind.TRAIN,
                "parent_run_id": setup.parent_run_id,
                "status": RunStatus.KILLED
                if status not in (TrialStatus.FINISHED, TrialStatus.FAILED)
                else record.status,
                "notes": notes,
                "trial": TrialInfo(
                    trial_id=trial_id,
                    segment=segment,
                    status=status,
                    stopped_at_epoch=epoch,
                    config=config,
                    restored_from=restored_from,
                    donor_trial_id=exploited_by or donor,
                    reports=reporter.reports if reporter is not None else [],
                ),
            }
        )

    run(
        spec,
        resume=restored_from is not None,
        extra_callbacks=callbacks,
        amend_record=amend,
    )


def restore_checkpoint(checkpoint: Any, checkpoint_dir: Path, home: Path) -> str | None:
    """Copy a Tune checkpoint (a Trainer checkpoint folder) where the runner resumes from; None without one.

    Optimizer and LR-scheduler state are left behind, so that a PBT trial continues the donor's weights and
    progress with its own (mutated) learning rate instead of the donor's.
    """
    if checkpoint is None:
        return None
    if checkpoint_dir.exists():
        remove_owned_dir(checkpoint_dir, home)  # only a folder greentune made
    make_owned_dir(checkpoint_dir)
    with checkpoint.as_directory() as source:
        name = _checkpoint_name(Path(source))
        target = checkpoint_dir / name
        shutil.copytree(source, target)
    for state_file in ("optimizer.pt", "scheduler.pt"):
        (target / state_file).unlink(missing_ok=True)
    return str(checkpoint.path)


def _checkpoint_name(source: Path) -> str:
    """`checkpoint-<global step>` from the Trainer state saved in the folder."""
    import json

    state = json.loads((source / "trainer_state.json").read_text())
    return f"checkpoint-{int(state['global_step'])}"


def cooperative_trainable(setup: TrialSetup) -> Any:
    """The Tune trainable class for `run_trial`: its cleanup waits until the trial has written its record."""
    from ray.train._internal.session import get_session
    from ray.tune.trainable.function_trainable import wrap_function

    def trainable(config: dict[str, Any]) -> None:
        run_trial(config, setup)

    base = wrap_function(trainable, name="greentune_trial")

    class CooperativeTrial(base):  # type: ignore[misc, valid-type]
        def cleanup(self) -> None:
            session = get_session()
            if session is not None and session.training_started:
                try:
                    session.finish(timeout=_RECORD_TIMEOUT_S)
                except Exception:  # the training error reaches Tune through the result queue already
                    pass
            super().cleanup()

    return CooperativeTrial


_RECORD_TIMEOUT_S = 300.0
