"""GreenCallback on its own, inside a plain HF Trainer script (no greentune runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, Trainer, TrainingArguments

from greentune.finetune.callback import GreenCallback
from greentune.meter import Meter, read_log
from greentune.meter.sensor import Component, Reading
from ranks import run_ranks

POWER_W = 100.0


class ConstantPowerSensor:
    """A fake sensor drawing exactly 100 W: every window's energy is 100 W × its duration."""

    name = "constant"

    def __init__(self) -> None:
        self.components = [Component("cpu", "cpu", "estimated")]
        self.first_s: float | None = None

    def read(self, now_s: float) -> Reading:
        self.first_s = now_s if self.first_s is None else self.first_s
        return Reading(energy_j={"cpu": POWER_W * (now_s - self.first_s)})

    def describe(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def window_durations(log_path: Path, name: str) -> list[float]:
    return [r["duration_s"] for r in read_log(log_path) if r["type"] == "window" and r["name"] == name]


class RandomPairs(torch.utils.data.Dataset):
    """Random token pairs for a tiny BART; lengths vary so batches differ."""

    def __init__(self, count: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.items = [
            {
                "input_ids": torch.randint(5, 100, (12,), generator=generator),
                "labels": torch.randint(5, 100, (6,), generator=generator),
            }
            for _ in range(count)
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.items[index]


def tiny_bart() -> BartForConditionalGeneration:
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=100,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=32,
    )
    return BartForConditionalGeneration(config)


def test_green_callback_measures_a_plain_trainer(tmp_path: Path) -> None:
    meter = Meter(interval_ms=50, log_path=tmp_path / "meter.jsonl", sensors=[ConstantPowerSensor()]).start()
    callback = GreenCallback(meter=meter)
    arguments = TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=4,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        include_num_input_tokens_seen="all",
    )
    trainer = Trainer(
        model=tiny_bart(),
        args=arguments,
        train_dataset=RandomPairs(8),
        eval_dataset=RandomPairs(4),
        callbacks=[callback],
    )
    trainer.train()
    with callback.phase("predict"):
        trainer.predict(RandomPairs(4))
    callback.close()
    meter.stop()

    summary = callback.summary()
    names = [phase.name for phase in summary.phases]
    assert names[:2] == ["train", "eval-loss"]
    assert {"epoch-1", "epoch-2", "predict"} <= set(names)
    assert "generate" not in names  # a plain Trainer evaluates without generating
    phases = {phase.name: phase for phase in summary.phases}
    assert phases["eval-loss"].windows == 2 and phases["epoch-1"].windows == 1
    # every phase, measured or derived by subtraction, drew the fake sensor's 100 W over its duration
    for phase in summary.phases:
        assert phase.energy_kwh == pytest.approx(POWER_W * phase.duration_s / 3.6e6, rel=1e-6, abs=1e-12), phase
    # the derived phases against the meter log's windows: evaluation = eval-loss (no generation in a plain
    # Trainer), train = the training loop − the evaluations (no checkpoints: save_strategy "no")
    log = tmp_path / "meter.jsonl"
    evaluations = window_durations(log, "evaluation")
    assert len(evaluations) == 2
    assert phases["eval-loss"].duration_s == pytest.approx(sum(evaluations))
    (loop,) = window_durations(log, "train-loop")
    assert phases["train"].duration_s == pytest.approx(loop - sum(evaluations))
    assert phases["predict"].duration_s == pytest.approx(sum(window_durations(log, "predict")))
    assert summary.run is not None and summary.run.duration_s >= phases["train"].duration_s
    assert summary.epochs_run == 2 and summary.epochs_budget == 2 and summary.early_stopping_saved_kwh == 0
    assert summary.train_samples == 16 and summary.samples_per_s > 0
    assert summary.train_tokens == 16 * 12 and summary.tokens_per_s > 0
    assert summary.total_flos and summary.total_flos > 0

    windows = {record["name"] for record in read_log(tmp_path / "meter.jsonl") if record["type"] == "window"}
    assert {"run", "epoch-1", "epoch-2", "predict"} <= windows


def test_generation_is_split_from_the_loss_pass(tmp_path: Path) -> None:
    from transformers import Seq2SeqTrainer, Seq2SeqTrainingArguments

    meter = Meter(interval_ms=50, log_path=tmp_path / "meter.jsonl", sensors=[ConstantPowerSensor()]).start()
    callback = GreenCallback(meter=meter)
    model = tiny_bart()
    model.generation_config.max_new_tokens = 4
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=1,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=2,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        predict_with_generate=True,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=arguments,
        train_dataset=RandomPairs(4),
        eval_dataset=RandomPairs(4),
        compute_metrics=lambda prediction: {},
        callbacks=[callback],
    )
    trainer.train()
    callback.close()
    meter.stop()
    phases = {phase.name: phase for phase in callback.summary().phases}
    assert phases["generate"].windows == 2  # one per evaluation batch
    # eval-loss = the evaluation window − the generate calls inside it, both as the meter log has them
    log = tmp_path / "meter.jsonl"
    generate = window_durations(log, "generate")
    assert phases["generate"].duration_s == pytest.approx(sum(generate))
    (evaluation,) = window_durations(log, "evaluation")
    assert phases["eval-loss"].duration_s == pytest.approx(evaluation - sum(generate))
    assert phases["eval-loss"].energy_kwh == pytest.approx(POWER_W * (evaluation - sum(generate)) / 3.6e6)


class Counter:
    """A sensor whose cumulative CPU counter is whatever the test sets."""

    name = "counter"

    def __init__(self) -> None:
        self.components = [Component("cpu", "cpu", "measured")]
        self.energy_j = 0.0

    def read(self, now_s: float) -> Reading:
        return Reading(energy_j={"cpu": self.energy_j})

    def describe(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


RANK_SCRIPT = """
import json
import torch.distributed as dist
from greentune.finetune.callback import GreenCallback
from greentune.meter import Meter
from test_finetune_callback import Counter

dist.init_process_group("gloo")
sensor = Counter()
meter = Meter(interval_ms=60_000, sensors=[sensor])
meter.start()
callback = GreenCallback(meter=meter)
callback.begin()
sensor.energy_j = 1000.0 * (dist.get_rank() + 1)
callback.close()
meter.stop()
print(json.dumps({"run_j": callback.summary().run.energy_j}))
dist.destroy_process_group()
"""


def test_the_run_total_is_summed_across_the_jobs_nodes() -> None:
    # two single-rank "nodes" (each local rank 0, so each measures): 1000 J and 2000 J make a 3000 J job
    totals_j = [printed["run_j"] for printed in run_ranks(RANK_SCRIPT, world_size=2, local_ranks=[0, 0])]
    assert totals_j == [3000.0, 3000.0]


def test_without_a_process_group_the_run_total_is_this_nodes() -> None:
    sensor = Counter()
    meter = Meter(interval_ms=60_000, sensors=[sensor])
    with meter:
        callback = GreenCallback(meter=meter)
        callback.begin()
        sensor.energy_j = 1000.0
        callback.close()
    assert callback.summary().run is not None and callback.summary().run.energy_j == 1000.0
