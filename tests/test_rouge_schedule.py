"""ROUGE every k epochs, with early stopping on the eval loss in between (issue 13).

The generation calls are counted by a real Trainer callback that wraps the
model's `generate` at the start of training, as a user's callback could; the
non-improving loss comes from a learning rate so small (1e-20) that no weight
moves, so every evaluation's loss equals the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback

from greentune.errors import GreentuneError
from greentune.finetune import run
from greentune.finetune.eval_trainer import rouge_due
from greentune.finetune.recipe import Hardware, resolve_recipe
from greentune.finetune.spec import EarlyStoppingConfig, StrategiesConfig
from greentune.ledger.record import StopReason
from tiny_models import tiny_spec


class GenerateCalls(TrainerCallback):
    """Wraps `model.generate` when training begins and notes the epoch of every call."""

    def __init__(self) -> None:
        self.epochs: list[float] = []
        self._state: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._state = state
        generate = model.generate

        def counted(*call_args: Any, **call_kwargs: Any) -> Any:
            self.epochs.append(float(self._state.epoch))
            return generate(*call_args, **call_kwargs)

        model.generate = counted


def test_rouge_runs_every_second_epoch_and_at_the_last(tmp_path: Path) -> None:
    calls = GenerateCalls()
    spec = tiny_spec(tmp_path, **{"train.epochs": 4, "strategies.rouge_every_epochs": 2})
    record = run(spec, extra_callbacks=lambda green: [calls])
    assert calls.epochs == [2.0, 4.0]  # one generate call per pass: 4 validation pairs, batches of 4
    assert record.rouge_evaluations == 2
    assert [("rouge1" in entry, entry["epoch"]) for entry in record.eval_history] == [
        (False, 1.0),
        (True, 2.0),
        (False, 3.0),
        (True, 4.0),
    ]
    assert record.rouge == {key: record.eval_history[-1][key] for key in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    assert record.stop_reason is StopReason.EPOCH_BUDGET
    assert "validate" not in {phase.name for phase in record.phases}  # the last epoch's pass is the result


def test_a_loss_that_does_not_improve_stops_training_after_patience_epochs(tmp_path: Path) -> None:
    calls = GenerateCalls()
    spec = tiny_spec(
        tmp_path,
        **{
            "train.epochs": 6,
            "train.learning_rate": 1e-20,
            "strategies.rouge_every_epochs": 2,
            "strategies.early_stopping": {"enabled": True, "metric": "eval_loss", "patience": 2},
        },
    )
    record = run(spec, extra_callbacks=lambda green: [calls])
    losses = [entry["eval_loss"] for entry in record.eval_history]
    assert len(losses) == 3 and len(set(losses)) == 1  # epoch 1 best; epochs 2 and 3 no better: patience 2 spent
    assert record.stop_reason is StopReason.EARLY_STOPPING
    assert (record.epochs_run, record.epochs_budget) == (3.0, 6.0)
    assert (
        f"early stopping ended training at epoch 3: eval_loss did not improve by more than 0 for 2 evaluations "
        f"(best {losses[0]:.4g})"
    ) in record.notes
    # ROUGE at epoch 2 in the loop; the weights kept are epoch 1's, which had none: one pass on them after training
    assert calls.epochs == [2.0, 3.0]
    assert record.rouge_evaluations == 2
    assert "validate" in {phase.name for phase in record.phases}
    assert record.rouge == {key: record.eval_history[0][key] for key in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    assert record.strategies["label"] == "early-stop-loss+rouge-every2"


@pytest.mark.parametrize(
    ("epoch", "global_step", "expected"),
    [(1.0, 2, False), (2.0, 4, True), (3.0, 6, False), (4.0, 8, True), (5.0, 10, True)],
)
def test_rouge_is_due_every_k_epochs_and_at_the_last_step(epoch: float, global_step: int, expected: bool) -> None:
    assert rouge_due(epoch, global_step, max_steps=10, every_epochs=2) is expected
    assert rouge_due(epoch, global_step, max_steps=10, every_epochs=None) is True


def test_a_schedule_that_cannot_be_followed_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GreentuneError, match="rouge_every_epochs needs train.eval_strategy 'epoch'"):
        tiny_spec(
            tmp_path, **{"strategies.rouge_every_epochs": 2, "train.eval_strategy": "steps", "train.eval_steps": 5}
        )
    with pytest.raises(GreentuneError, match="early_stopping on rouge1 needs ROUGE at every evaluation"):
        tiny_spec(tmp_path, **{"strategies.rouge_every_epochs": 2, "strategies.early_stopping": {"enabled": True}})


def test_the_recipe_turns_on_the_evaluation_switches_it_can() -> None:
    cpu = Hardware(has_cuda=False, has_bf16=False)
    resolved = resolve_recipe(StrategiesConfig(recipe="frugal"), cpu).strategies
    assert (resolved.rouge_every_epochs, resolved.eval_batch_size) == (2, 64)
    assert resolved.eval_sort_by_length is True and resolved.eval_static_cache is True
    assert resolved.early_stopping == EarlyStoppingConfig(enabled=True, metric="eval_loss", patience=2)

    by_steps = resolve_recipe(StrategiesConfig(recipe="frugal"), cpu, eval_strategy="steps")
    assert by_steps.strategies.rouge_every_epochs is None and not by_steps.strategies.early_stopping.enabled
    assert (
        "recipe frugal: eval_strategy steps, so no ROUGE schedule or early stopping on the loss "
        "(both need an evaluation every epoch)"
    ) in by_steps.notes

    on_rouge = StrategiesConfig(recipe="frugal", early_stopping=EarlyStoppingConfig(enabled=True, metric="rouge2"))
    kept = resolve_recipe(on_rouge, cpu)
    assert kept.strategies.rouge_every_epochs is None and kept.strategies.early_stopping.metric == "rouge2"
    assert kept.strategies.eval_sort_by_length is True  # the generation switches do not depend on it

    explicit = resolve_recipe(StrategiesConfig(recipe="frugal", rouge_every_epochs=3, eval_batch_size=16), cpu)
    assert (explicit.strategies.rouge_every_epochs, explicit.strategies.eval_batch_size) == (3, 16)
