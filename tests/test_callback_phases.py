"""GreenCallback's phase arithmetic against a meter whose windows are scripted.

A `ScriptedMeter` stands in for `greentune.meter.Meter` at the edge: the test
advances its clock and energy counters by hand, so every window — and every
phase the callback derives from them — has a value known in advance. The
callback is driven through the TrainerCallback events in the order an HF
Trainer calls them (two epochs, an evaluation after each, a checkpoint after
the first, generation inside the evaluations).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from greentune.finetune.callback import GreenCallback, GreenSummary
from greentune.meter import ComponentEnergy, Measurement

JOULES_PER_KWH = 3.6e6


class ScriptedMeter:
    """A clock and two energy counters (``gpu:0`` measured, ``cpu`` estimated) that the test advances."""

    def __init__(self) -> None:
        self.now_s = 0.0
        self.gpu_j = 0.0
        self.cpu_j = 0.0
        self.begun: dict[str, tuple[float, float, float]] = {}

    def start(self) -> ScriptedMeter:
        return self

    def stop(self) -> None:
        pass

    def advance(self, seconds: float, gpu_j: float, cpu_j: float) -> None:
        self.now_s += seconds
        self.gpu_j += gpu_j
        self.cpu_j += cpu_j

    def begin_window(self, name: str) -> None:
        assert name not in self.begun, f"window {name} opened twice"
        self.begun[name] = (self.now_s, self.gpu_j, self.cpu_j)

    def end_window(self, name: str) -> Measurement:
        start_s, gpu_j, cpu_j = self.begun.pop(name)
        return Measurement(
            name=name,
            start_unix_s=start_s,
            duration_s=self.now_s - start_s,
            components=[
                ComponentEnergy("gpu:0", "gpu", self.gpu_j - gpu_j, "measured"),
                ComponentEnergy("cpu", "cpu", self.cpu_j - cpu_j, "estimated"),
            ],
        )


def control(evaluate: bool = False, save: bool = False) -> SimpleNamespace:
    return SimpleNamespace(should_evaluate=evaluate, should_save=save)


def train_two_epochs(
    budget_epochs: float = 3,
    tokens_per_step: int = 48,
    dataloader: object = None,
    world_size: int = 1,
    start_epoch: float | None = 0.0,
    accumulation: int = 1,
) -> tuple[GreenCallback, ScriptedMeter]:
    """Two epochs of 2 steps (batch 4): per epoch 10 s of steps, then an evaluation; a checkpoint after epoch 1.

    Per epoch: steps 10 s (GPU 3600 J, CPU 360 J); evaluation 2 s, of which one
    generate call 1 s (GPU 360 J, CPU 36 J) and the loss pass 1 s (GPU 360 J,
    CPU 36 J). After epoch 1 a checkpoint: 1 s (GPU 180 J, CPU 36 J).
    Before the first epoch and after the last, 0.5 s each (GPU 100 J, CPU 10 J) of loop overhead.
    """
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]  # the scripted stand-in
    model = SimpleNamespace(generate=lambda: meter.advance(1.0, 360.0, 36.0))
    args = SimpleNamespace(
        num_train_epochs=budget_epochs,
        max_steps=-1,
        train_batch_size=4,
        gradient_accumulation_steps=accumulation,
        world_size=world_size,
    )
    state = SimpleNamespace(
        global_step=0, epoch=start_epoch, num_input_tokens_seen=0, train_batch_size=4, total_flos=1.5e12
    )
    callback.on_train_begin(args, state, control(), model=model, train_dataloader=dataloader)
    meter.advance(0.5, 100.0, 10.0)
    for epoch in (1, 2):
        callback.on_epoch_begin(args, state, control())
        for _ in range(2):
            meter.advance(5.0, 1800.0, 180.0)
            state.global_step += 1
            state.num_input_tokens_seen += tokens_per_step
            callback.on_step_end(args, state, control())
        state.epoch = float(epoch)
        callback.on_epoch_end(args, state, control(evaluate=True, save=epoch == 1))
        meter.advance(1.0, 360.0, 36.0)  # the loss pass
        model.generate()  # the Trainer calls the model's generate, which the callback wrapped
        callback.on_evaluate(args, state, control(save=epoch == 1))
        if epoch == 1:
            meter.advance(1.0, 180.0, 36.0)
            callback.on_save(args, state, control())
    meter.advance(0.5, 100.0, 10.0)
    callback.on_train_end(args, state, control())
    callback.close()
    return callback, meter


def test_each_phase_is_the_sum_of_its_windows_and_train_excludes_evaluation_and_checkpoints() -> None:
    callback, meter = train_two_epochs()
    phases = {phase.name: phase for phase in callback.summary().phases}
    assert set(phases) == {"train", "eval-loss", "generate", "checkpoint", "epoch-1", "epoch-2"}
    assert not meter.begun  # every window the callback opened it also closed

    # train = loop (0.5 + 2 × (10 + 2) + 1 + 0.5 = 26 s) − evaluations (4 s) − checkpoint (1 s) = 21 s
    train = phases["train"]
    assert train.duration_s == pytest.approx(21.0)
    assert train.component_kwh["gpu:0"] == pytest.approx((2 * 3600 + 200) / JOULES_PER_KWH)
    assert train.component_kwh["cpu"] == pytest.approx((2 * 360 + 20) / JOULES_PER_KWH)
    assert train.energy_kwh == pytest.approx((2 * 3960 + 220) / JOULES_PER_KWH)
    assert train.windows == 1

    # eval-loss = the two evaluation windows (2 s each) − the generate calls inside them (1 s each)
    eval_loss = phases["eval-loss"]
    assert (eval_loss.duration_s, eval_loss.windows) == (pytest.approx(2.0), 2)
    assert eval_loss.energy_kwh == pytest.approx(2 * 396 / JOULES_PER_KWH)
    generate = phases["generate"]
    assert (generate.duration_s, generate.windows) == (pytest.approx(2.0), 2)
    assert generate.component_kwh == pytest.approx({"gpu:0": 720 / JOULES_PER_KWH, "cpu": 72 / JOULES_PER_KWH})

    checkpoint = phases["checkpoint"]
    assert (checkpoint.duration_s, checkpoint.windows) == (pytest.approx(1.0), 1)
    assert checkpoint.energy_kwh == pytest.approx(216 / JOULES_PER_KWH)
    for name in ("epoch-1", "epoch-2"):
        assert (phases[name].duration_s, phases[name].windows) == (pytest.approx(10.0), 1)
        assert phases[name].energy_kwh == pytest.approx(3960 / JOULES_PER_KWH)


def test_phases_come_in_a_fixed_order_with_epochs_by_number() -> None:
    callback, _ = train_two_epochs()
    names = [phase.name for phase in callback.summary().phases]
    assert names == ["train", "eval-loss", "checkpoint", "generate", "epoch-1", "epoch-2"]


def test_run_window_throughput_and_early_stopping_savings() -> None:
    callback, _ = train_two_epochs(budget_epochs=3)
    summary = callback.summary()
    assert summary.run is not None and summary.run.duration_s == pytest.approx(26.0)
    assert summary.run.energy_j == pytest.approx(2 * 3960 + 2 * 792 + 216 + 220)
    assert (summary.epochs_run, summary.epochs_budget) == (2.0, 3.0)
    # one epoch of the budget left: the loop's energy (the run's, all of it inside the loop) ÷ 2 epochs run
    assert summary.early_stopping_saved_kwh == pytest.approx((2 * 3960 + 2 * 792 + 216 + 220) / 2 / JOULES_PER_KWH)
    assert summary.train_samples == 16  # 4 steps × batch 4, no dataset length known
    assert summary.train_duration_s == pytest.approx(21.0)
    assert summary.samples_per_s == pytest.approx(16 / 21.0)
    assert (summary.train_tokens, summary.tokens_per_s) == (192, pytest.approx(192 / 21.0))
    assert summary.total_flos == 1.5e12


def test_a_finished_budget_saves_nothing() -> None:
    callback, _ = train_two_epochs(budget_epochs=2)
    assert callback.summary().early_stopping_saved_kwh == 0.0


def test_a_phase_the_caller_opens_adds_up_over_its_blocks() -> None:
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]
    for seconds, gpu_j in ((3.0, 300.0), (4.0, 500.0)):
        with callback.phase("test"):
            meter.advance(seconds, gpu_j, 0.0)
    meter.advance(2.0, 1000.0, 0.0)  # outside any phase: only the run window sees it
    callback.close()
    summary = callback.summary()
    (test,) = summary.phases
    assert (test.name, test.windows, test.duration_s) == ("test", 2, pytest.approx(7.0))
    assert test.energy_kwh == pytest.approx(800 / JOULES_PER_KWH)
    assert summary.run is not None and summary.run.energy_j == pytest.approx(1800.0)
    assert summary.train_duration_s == 0.0 and summary.samples_per_s is None and summary.tokens_per_s is None
    assert (summary.train_samples, summary.train_tokens, summary.epochs_run) == (0, None, None)


def test_each_phase_has_the_emissions_of_its_windows_derived_like_its_energy() -> None:
    # 0.1 g per joule for a window that starts before 13 s, 0.2 g per joule after (a cleaner grid, then a dirtier one)
    callback, _ = train_two_epochs()
    phases = {
        phase.name: phase.emissions_gco2eq
        for phase in callback.summary(
            lambda window: window.energy_j * (0.1 if window.start_unix_s < 13 else 0.2)
        ).phases
    }
    # windows: loop from 0 s, 9,940 J → 994 g; evaluations at 10.5 s and 23.5 s, 792 J each → 79.2 + 158.4 g;
    # generate at 11.5 s and 24.5 s, 396 J each → 39.6 + 79.2 g; checkpoint at 12.5 s, 216 J → 21.6 g;
    # epoch-1 from 0.5 s, 3,960 J → 396 g; epoch-2 from 13.5 s → 792 g
    assert phases == {
        "train": pytest.approx(994.0 - 237.6 - 21.6),  # the loop − evaluations − checkpoint
        "eval-loss": pytest.approx(237.6 - 118.8),  # evaluations − generation
        "generate": pytest.approx(118.8),
        "checkpoint": pytest.approx(21.6),
        "epoch-1": pytest.approx(396.0),
        "epoch-2": pytest.approx(792.0),
    }
    assert all(phase.emissions_gco2eq is None for phase in callback.summary().phases)  # no series, no emissions


def test_without_a_token_count_there_is_no_token_rate() -> None:
    summary = train_two_epochs(tokens_per_step=0)[0].summary()
    assert (summary.train_tokens, summary.tokens_per_s) == (None, None)
    assert summary.samples_per_s == pytest.approx(16 / 21.0)


def test_samples_are_epochs_times_the_dataset_size_when_it_has_one() -> None:
    # 7 examples in batches of 4: the second batch of each epoch is short, so 2 epochs are 14 samples (not 4 × 4)
    dataloader = SimpleNamespace(dataset=list(range(7)))
    assert train_two_epochs(dataloader=dataloader)[0].summary().train_samples == 14


def test_an_epoch_not_set_yet_at_the_start_counts_as_epoch_zero() -> None:
    # the Trainer's state.epoch is None before the first step: 2 epochs × 7 examples = 14 samples
    dataloader = SimpleNamespace(dataset=list(range(7)))
    assert train_two_epochs(dataloader=dataloader, start_epoch=None)[0].summary().train_samples == 14


def test_samples_without_a_dataset_size_count_every_process_and_accumulated_batch() -> None:
    # 4 steps × batch 4 × 1 accumulation step × 2 processes = 32; world_size 0 (no distributed setup) counts as 1
    assert train_two_epochs(world_size=2)[0].summary().train_samples == 32
    assert train_two_epochs(accumulation=2, world_size=3)[0].summary().train_samples == 4 * 4 * 2 * 3
    assert train_two_epochs(world_size=0)[0].summary().train_samples == 16


def test_a_step_budget_has_no_epoch_budget_and_no_early_stopping_saving() -> None:
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]
    args = SimpleNamespace(
        num_train_epochs=3, max_steps=1, train_batch_size=4, gradient_accumulation_steps=1, world_size=1
    )
    state = SimpleNamespace(global_step=0, epoch=0.0, num_input_tokens_seen=0, train_batch_size=4, total_flos=None)
    callback.on_train_begin(args, state, control())
    meter.advance(5.0, 1800.0, 180.0)
    state.global_step, state.epoch = 1, 0.25
    callback.on_step_end(args, state, control())
    callback.on_train_end(args, state, control())
    callback.close()
    summary = callback.summary()
    assert (summary.epochs_run, summary.epochs_budget, summary.early_stopping_saved_kwh) == (0.25, None, None)


def test_a_dataset_without_a_length_counts_steps_times_batch() -> None:
    # an iterable dataset (no __len__): 4 steps × batch 4 × 1 accumulation step × 1 process
    dataloader = SimpleNamespace(dataset=iter(range(7)))
    assert train_two_epochs(dataloader=dataloader)[0].summary().train_samples == 16


@pytest.mark.parametrize(
    ("dataloader", "samples"),
    [(None, 8), (SimpleNamespace(dataset=list(range(6))), 6)],
    ids=["steps-times-batch", "epochs-times-dataset"],
)
def test_a_resumed_run_counts_only_its_own_steps_over_several_train_calls(dataloader: object, samples: int) -> None:
    # resumed from step 4 (epoch 2, 192 tokens); then train() twice (as a carbon-aware run does per segment),
    # one step of batch 4 and 48 tokens each: 2 steps, 96 tokens; epoch 2.0 → 3.0. Samples: 2 steps × batch 4 = 8,
    # or with a 6-example dataset (3.0 − 2.0) epochs × 6 = 6
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]
    args = SimpleNamespace(
        num_train_epochs=4, max_steps=-1, train_batch_size=4, gradient_accumulation_steps=1, world_size=1
    )
    state = SimpleNamespace(global_step=4, epoch=2.0, num_input_tokens_seen=192, train_batch_size=4, total_flos=None)
    for _ in range(2):
        callback.on_train_begin(args, state, control(), train_dataloader=dataloader)
        meter.advance(5.0, 1800.0, 180.0)
        state.global_step += 1
        state.epoch += 0.5
        state.num_input_tokens_seen += 48
        callback.on_step_end(args, state, control())
        callback.on_train_end(args, state, control())
    callback.close()
    summary = callback.summary()
    assert (summary.train_samples, summary.train_tokens, summary.epochs_run) == (samples, 96, 3.0)
    assert summary.train_duration_s == pytest.approx(10.0)


def test_a_checkpoint_saved_at_a_step_is_its_own_phase() -> None:
    # save_steps: the Trainer saves after step 1 without evaluating; 1 s (GPU 180 J, CPU 36 J) out of the 11-s loop
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]
    args = SimpleNamespace(
        num_train_epochs=1, max_steps=2, train_batch_size=4, gradient_accumulation_steps=1, world_size=1
    )
    state = SimpleNamespace(global_step=0, epoch=0.0, num_input_tokens_seen=0, train_batch_size=4, total_flos=None)
    callback.on_train_begin(args, state, control())
    for step in (1, 2):
        meter.advance(5.0, 1800.0, 180.0)
        state.global_step = step
        callback.on_step_end(args, state, control(save=step == 1))
        if step == 1:
            meter.advance(1.0, 180.0, 36.0)
            callback.on_save(args, state, control())
    callback.on_train_end(args, state, control())
    callback.close()
    phases = {phase.name: phase for phase in callback.summary().phases}
    assert (phases["checkpoint"].duration_s, phases["checkpoint"].windows) == (1.0, 1)
    assert phases["checkpoint"].energy_kwh == pytest.approx(216 / JOULES_PER_KWH)
    assert phases["train"].duration_s == pytest.approx(10.0)
    assert phases["train"].energy_kwh == pytest.approx(2 * 1980 / JOULES_PER_KWH)


def test_an_evaluation_that_only_generates_leaves_an_eval_loss_of_zero() -> None:
    # the evaluation window (1 s) holds one generate call of the same 1 s: eval-loss is 0 s and 0 kWh, not negative
    meter = ScriptedMeter()
    callback = GreenCallback(meter=meter)  # type: ignore[arg-type]
    model = SimpleNamespace(generate=lambda: meter.advance(1.0, 360.0, 36.0))
    args = SimpleNamespace(
        num_train_epochs=1, max_steps=-1, train_batch_size=4, gradient_accumulation_steps=1, world_size=1
    )
    state = SimpleNamespace(global_step=0, epoch=0.0, num_input_tokens_seen=0, train_batch_size=4, total_flos=None)
    callback.on_train_begin(args, state, control(), model=model)
    meter.advance(5.0, 1800.0, 180.0)
    state.global_step, state.epoch = 1, 1.0
    callback.on_step_end(args, state, control(evaluate=True))
    model.generate()
    callback.on_evaluate(args, state, control())
    callback.on_train_end(args, state, control())
    callback.close()
    phases = {phase.name: phase for phase in callback.summary().phases}
    eval_loss = phases["eval-loss"]
    assert (eval_loss.duration_s, eval_loss.energy_kwh, eval_loss.windows) == (0.0, 0.0, 1)
    assert eval_loss.component_kwh == {"gpu:0": 0.0, "cpu": 0.0}
    assert phases["generate"].duration_s == 1.0


def test_rates_over_a_training_time_shorter_than_a_second() -> None:
    # 4 samples and 96 tokens in 0.5 s: 8 samples/s and 192 tokens/s; no training time: no rates
    summary = GreenSummary(
        run=None,
        phases=[],
        epochs_run=None,
        epochs_budget=None,
        early_stopping_saved_kwh=None,
        total_flos=None,
        train_samples=4,
        train_tokens=96,
        train_duration_s=0.5,
    )
    assert (summary.samples_per_s, summary.tokens_per_s) == (8.0, 192.0)
    idle = GreenSummary(None, [], None, None, None, None, train_samples=4, train_tokens=96, train_duration_s=0.0)
    assert (idle.samples_per_s, idle.tokens_per_s) == (None, None)
