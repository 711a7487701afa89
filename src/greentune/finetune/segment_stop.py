"""`SegmentStop`: a TrainerCallback that ends a Pause & Resume segment with a full checkpoint.

Kept apart from `carbon_aware` so planning a run does not import
transformers (and torch) before the runner has set its threading options.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transformers import TrainerCallback

from greentune.finetune.clock import Clock

_EPSILON_S = 1e-6


class SegmentStop(TrainerCallback):
    """Checkpoint and stop the Trainer at the first optimizer step at or past `segment_end` (None: run to the end)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.segment_end: datetime | None = None
        self.stopped = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.calibrate(state.max_steps)
        self.clock.observe_step(state.global_step)
        self.stopped = False

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.clock.observe_step(state.global_step)
        if self.segment_end is None or state.global_step >= state.max_steps:
            return
        if self.clock.now().timestamp() >= self.segment_end.timestamp() - _EPSILON_S:
            control.should_save = True
            control.should_training_stop = True
            self.stopped = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """A stop in mid-epoch is not an epoch's end: no evaluation or second save until the epoch really ends."""
        if self.stopped and abs(float(state.epoch or 0) - round(float(state.epoch or 0))) > _EPSILON_S:
            control.should_evaluate = False
            control.should_save = False
