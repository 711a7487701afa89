"""Rich progress bars for a Trainer: one bar for the optimisation steps, one per evaluation or prediction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments


class RichProgressCallback(TrainerCallback):
    """Drives tasks of a caller's `rich.progress.Progress` from Trainer events (HF's tqdm bars are turned off)."""

    def __init__(self, progress: Any, label: str) -> None:
        self.progress = progress
        self.label = label
        self._train_task: Any = None
        self._eval_task: Any = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._train_task = self.progress.add_task(
            f"{self.label} train", total=state.max_steps, completed=state.global_step
        )

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self._train_task is not None:
            self.progress.update(self._train_task, completed=state.global_step)

    def on_prediction_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        eval_dataloader: Any = None,
        **kwargs: Any,
    ) -> None:
        if self._eval_task is None:
            total = len(eval_dataloader) if eval_dataloader is not None else None
            self._eval_task = self.progress.add_task(f"{self.label} evaluate", total=total)
        self.progress.advance(self._eval_task)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self._finish_eval()

    def on_predict(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, metrics: Any = None, **kwargs: Any
    ) -> None:
        self._finish_eval()

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._train_task is not None:
            self.progress.remove_task(self._train_task)
            self._train_task = None

    def _finish_eval(self) -> None:
        if self._eval_task is not None:
            self.progress.remove_task(self._eval_task)
            self._eval_task = None
