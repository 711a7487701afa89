"""Why training ended, for the record: its epoch budget, `max_steps`, early stopping, or another callback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greentune.ledger.record import StopReason


@dataclass(frozen=True)
class TrainingEnd:
    """Why training ended, and one line for the record's notes when it ended early."""

    reason: StopReason
    note: str | None = None


def training_end(state: Any, max_steps_set: bool, early_stopping: Any | None, metric: str | None) -> TrainingEnd:
    """Read the end of a finished `trainer.train()` from its `TrainerState` and its `EarlyStoppingCallback`.

    Early stopping is named only when it cut training short: a patience that runs out at the last
    step stopped nothing.
    """
    if state.global_step >= state.max_steps:
        return TrainingEnd(StopReason.MAX_STEPS if max_steps_set else StopReason.EPOCH_BUDGET)
    if early_stopping is not None and early_stopping.early_stopping_patience_counter >= (
        early_stopping.early_stopping_patience
    ):
        patience = early_stopping.early_stopping_patience
        return TrainingEnd(
            StopReason.EARLY_STOPPING,
            f"early stopping ended training at epoch {float(state.epoch or 0):g}: {metric} did not improve by more "
            f"than {early_stopping.early_stopping_threshold:g} for {patience} evaluation{'s' if patience > 1 else ''} "
            f"(best {state.best_metric:.4g})",
        )
    return TrainingEnd(
        StopReason.CALLBACK,
        f"a callback ended training at epoch {float(state.epoch or 0):g} (step {state.global_step} of {state.max_steps})",
    )
