"""`GreenCallback`: meter windows per phase and per epoch inside any HF Trainer.

Add it to a Trainer's callbacks and it measures, with a `greentune.meter.Meter`:
- `run`: everything from `begin()` (or the start of training) to `close()`;
- `train`: the optimisation steps (training minus evaluations and checkpoints);
- `epoch-N`: the steps of each epoch;
- `eval-loss` and `generate`: each evaluation during training, split into its
  generation calls (`model.generate` is wrapped) and the rest;
- `checkpoint`: saving checkpoints;
- any phase the caller opens with `with callback.phase(Phase.TEST): ...`.

Phase names are `greentune.ledger.record.Phase`. Given `emissions_of` (a window's
gCO2eq on the run's intensity series), `summary` also gives each phase's
emissions, derived the same way as its energy.

With a `greentune.power_limit.PowerLimitOptimizer` it also profiles GPU power
limits on the first steps, keeps the best one and restores the original at close.

In a multi-process job (torchrun, accelerate, DeepSpeed: a `torch.distributed`
process group is up) `close()` is a collective that every rank must reach: the
`run` window becomes the job total with `meter.sum_across_nodes` (local rank 0
of each node measures it, so node totals add up, never counted twice). The
phases stay this node's.

Windows of the same phase add up. After training, `summary()` returns the
phases, throughput (samples/s, tokens/s when the Trainer counts input tokens),
FLOPs, and what early stopping saved against the epoch budget. HF has no
"evaluation begins" event, so the evaluation window opens when the Trainer's
flow callback decides to evaluate (`control.should_evaluate` at step or epoch
end) and closes at `on_evaluate`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transformers import TrainerCallback

from greentune.ledger.record import Phase
from greentune.meter import Measurement, Meter, Scope, sum_across_nodes
from greentune.power_limit import PowerLimitOptimizer

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

RUN = Phase.RUN
_TRAIN_WINDOW = "train-loop"  # the whole training loop; Phase.TRAIN is this minus evaluations and checkpoints
_EVAL_WINDOW = "evaluation"  # each evaluation; Phase.EVAL_LOSS is this minus generation


@dataclass
class PhaseTotal:
    """Time, energy and (on a series) emissions of one phase, summed over its windows; kWh by component name."""

    name: str
    duration_s: float = 0.0
    energy_kwh: float = 0.0
    component_kwh: dict[str, float] = field(default_factory=dict)
    windows: int = 0
    emissions_gco2eq: float | None = None

    def add(self, measurement: Measurement, sign: float = 1.0, emissions_gco2eq: float | None = None) -> None:
        """Add (or, with sign -1, take away) one window's measurement and its emissions when known."""
        self.duration_s += sign * measurement.duration_s
        self.energy_kwh += sign * measurement.energy_kwh
        if emissions_gco2eq is not None:
            self.emissions_gco2eq = (self.emissions_gco2eq or 0.0) + sign * emissions_gco2eq
        for component in measurement.components:
            self.component_kwh[component.name] = (
                self.component_kwh.get(component.name, 0.0) + sign * component.energy_kwh
            )
        self.windows += 1 if sign > 0 else 0

    def add_total(self, other: PhaseTotal, sign: float = 1.0) -> None:
        """Add (or take away) another phase's totals."""
        self.duration_s += sign * other.duration_s
        self.energy_kwh += sign * other.energy_kwh
        if other.emissions_gco2eq is not None:
            self.emissions_gco2eq = (self.emissions_gco2eq or 0.0) + sign * other.emissions_gco2eq
        for name, energy_kwh in other.component_kwh.items():
            self.component_kwh[name] = self.component_kwh.get(name, 0.0) + sign * energy_kwh


@dataclass
class GreenSummary:
    """What the callback measured over one training job."""

    run: Measurement | None
    phases: list[PhaseTotal]
    epochs_run: float | None
    epochs_budget: float | None
    early_stopping_saved_kwh: float | None
    total_flos: float | None
    train_samples: int
    train_tokens: int | None
    train_duration_s: float

    @property
    def samples_per_s(self) -> float | None:
        """Training samples per second of optimisation steps."""
        return self.train_samples / self.train_duration_s if self.train_duration_s > 0 else None

    @property
    def tokens_per_s(self) -> float | None:
        """Training input tokens per second, when the Trainer counted them."""
        if not self.train_tokens or self.train_duration_s <= 0:
            return None
        return self.train_tokens / self.train_duration_s


class GreenCallback(TrainerCallback):
    """Meter windows per phase and per epoch for an HF Trainer; see the module docstring."""

    def __init__(
        self,
        meter: Meter | None = None,
        log_path: Path | None = None,
        interval_ms: int = 100,
        scope: Scope = Scope.MACHINE,
        power_limit: PowerLimitOptimizer | None = None,
    ) -> None:
        """Use ``meter``, or start one of our own with ``log_path``, ``interval_ms`` and ``scope``.

        ``power_limit`` profiles and sets GPU power limits on the first training steps and restores them at close.
        """
        self.power_limit = power_limit
        self._own_meter = meter is None
        self.meter = meter if meter is not None else Meter(interval_ms=interval_ms, log_path=log_path, scope=scope)
        self._windows: dict[str, list[Measurement]] = {}
        self._open: set[str] = set()
        self._run: Measurement | None = None
        self._begun = False
        self._closed = False
        self._epoch_window: str | None = None
        self._state: TrainerState | None = None
        self._args: TrainingArguments | None = None
        self._train_samples = 0
        self._steps_at_begin = 0
        self._epoch_at_begin = 0.0
        self._tokens_at_begin = 0
        self._train_set_size: int | None = None

    # --- windows -----------------------------------------------------------
    def begin(self) -> None:
        """Start the meter (when the callback owns it) and the `run` window; idempotent."""
        if self._begun:
            return
        if self._own_meter:
            self.meter.start()
        self.meter.begin_window(RUN)
        self._begun = True

    def close(self) -> None:
        """End every open window and the `run` window (summed over the job's nodes); stop the meter when owned."""
        if not self._begun or self._closed:
            return
        if self.power_limit is not None:
            self.power_limit.restore()
        for name in sorted(self._open):
            self._end(name)
        self._run = sum_across_nodes(self.meter.end_window(RUN))
        if self._own_meter:
            self.meter.stop()
        self._closed = True

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure a block as (part of) phase `name`."""
        self.begin()
        self._begin(name)
        try:
            yield
        finally:
            self._end(name)

    def _begin(self, name: str) -> None:
        if name in self._open:
            return
        self.meter.begin_window(name)
        self._open.add(name)

    def _end(self, name: str) -> None:
        if name not in self._open:
            return
        self._open.discard(name)
        self._windows.setdefault(name, []).append(self.meter.end_window(name))

    # --- Trainer events ----------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: Any = None, **kwargs: Any
    ) -> None:
        self.begin()
        if self._state is None:  # the first train() call; a carbon-aware run calls train() once per segment
            self._steps_at_begin = state.global_step
            self._epoch_at_begin = float(state.epoch or 0.0)
            self._tokens_at_begin = state.num_input_tokens_seen or 0
        self._args, self._state = args, state
        dataloader = kwargs.get("train_dataloader")
        dataset = getattr(dataloader, "dataset", None)
        self._train_set_size = len(dataset) if dataset is not None and hasattr(dataset, "__len__") else None
        if model is not None and not getattr(model.generate, "_greentune_metered", False):
            model.generate = self._metered_generate(model.generate)
        self._begin(_TRAIN_WINDOW)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._epoch_window = Phase.EPOCH.numbered(int(state.epoch or 0) + 1)
        self._begin(self._epoch_window)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.power_limit is not None:
            self.power_limit.on_step_end()
        self._open_eval_if_due(control)
        if control.should_save and not control.should_evaluate:
            self._begin(Phase.CHECKPOINT)

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._epoch_window is not None:
            self._end(self._epoch_window)
            self._epoch_window = None
        self._open_eval_if_due(control)
        if control.should_save and not control.should_evaluate:
            self._begin(Phase.CHECKPOINT)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if _EVAL_WINDOW in self._open:
            self._end(_EVAL_WINDOW)
        if control.should_save:
            self._begin(Phase.CHECKPOINT)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._end(Phase.CHECKPOINT)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._end(_TRAIN_WINDOW)
        self._end(Phase.CHECKPOINT)
        if self._train_set_size is not None:  # exact when the last batch of an epoch is short
            self._train_samples = round((float(state.epoch or 0.0) - self._epoch_at_begin) * self._train_set_size)
        else:
            batch_size = state.train_batch_size or args.train_batch_size  # what auto batch size settled on
            steps = state.global_step - self._steps_at_begin
            self._train_samples = steps * batch_size * args.gradient_accumulation_steps * max(1, args.world_size)

    def _open_eval_if_due(self, control: TrainerControl) -> None:
        if control.should_evaluate and self._state is not None:
            self._begin(_EVAL_WINDOW)

    def _metered_generate(self, generate: Any) -> Any:
        @functools.wraps(generate)
        def metered(*args: Any, **kwargs: Any) -> Any:
            if _EVAL_WINDOW not in self._open:  # outside evaluation the caller's phase covers it
                return generate(*args, **kwargs)
            with self.phase(Phase.GENERATE):
                return generate(*args, **kwargs)

        metered._greentune_metered = True  # type: ignore[attr-defined]
        return metered

    # --- results -----------------------------------------------------------
    def summary(self, emissions_of: Callable[[Measurement], float] | None = None) -> GreenSummary:
        """Phases and throughput so far (call after training; `close()` first for the run totals).

        `emissions_of` gives a window's gCO2eq; with it every phase has its emissions."""
        totals = self._totals(emissions_of)
        phases = self._derived_phases(totals)
        state = self._state
        epochs_run = float(state.epoch) if state is not None and state.epoch is not None else None
        epochs_budget = (
            float(self._args.num_train_epochs) if self._args is not None and not self._args.max_steps > 0 else None
        )
        saved_kwh = None
        train_loop = totals.get(_TRAIN_WINDOW)
        if epochs_run and epochs_budget and train_loop is not None:
            # an epoch costs its steps plus its evaluation and checkpoint: the whole loop divided by epochs run
            saved_kwh = max(0.0, epochs_budget - epochs_run) * train_loop.energy_kwh / epochs_run
        train = next((phase for phase in phases if phase.name == Phase.TRAIN), None)
        tokens = (state.num_input_tokens_seen or 0) - self._tokens_at_begin if state is not None else 0
        return GreenSummary(
            run=self._run,
            phases=phases,
            epochs_run=epochs_run,
            epochs_budget=epochs_budget,
            early_stopping_saved_kwh=saved_kwh,
            total_flos=float(state.total_flos) if state is not None and state.total_flos else None,
            train_samples=self._train_samples,
            train_tokens=tokens or None,
            train_duration_s=train.duration_s if train is not None else 0.0,
        )

    def _totals(self, emissions_of: Callable[[Measurement], float] | None) -> dict[str, PhaseTotal]:
        """Each window name's windows summed."""
        totals = {}
        for name, measurements in self._windows.items():
            total = totals[name] = PhaseTotal(name)
            for measurement in measurements:
                total.add(measurement, emissions_gco2eq=emissions_of(measurement) if emissions_of else None)
        return totals

    @staticmethod
    def _derived_phases(totals: dict[str, PhaseTotal]) -> list[PhaseTotal]:
        """train = loop − evaluations − checkpoints; eval-loss = evaluations − generation inside them."""
        totals = dict(totals)
        phases: list[PhaseTotal] = []
        loop = totals.pop(_TRAIN_WINDOW, None)
        evaluation = totals.pop(_EVAL_WINDOW, None)
        generate = totals.get(Phase.GENERATE)
        if loop is not None:
            train = PhaseTotal(Phase.TRAIN, windows=loop.windows)
            train.add_total(loop)
            if evaluation is not None:
                train.add_total(evaluation, -1.0)
            if Phase.CHECKPOINT in totals:
                train.add_total(totals[Phase.CHECKPOINT], -1.0)
            phases.append(train)
        if evaluation is not None:
            eval_loss = PhaseTotal(Phase.EVAL_LOSS, windows=evaluation.windows)
            eval_loss.add_total(evaluation)
            if generate is not None:
                eval_loss.add_total(generate, -1.0)
            phases.append(_clamped(eval_loss))
        phases.extend(totals[name] for name in sorted(totals, key=_phase_order))
        return phases


def _clamped(phase: PhaseTotal) -> PhaseTotal:
    """Rounding in the meter can leave −0.0001 s after a subtraction; floor at zero."""
    phase.duration_s = max(0.0, phase.duration_s)
    phase.energy_kwh = max(0.0, phase.energy_kwh)
    phase.component_kwh = {name: max(0.0, value) for name, value in phase.component_kwh.items()}
    if phase.emissions_gco2eq is not None:
        phase.emissions_gco2eq = max(0.0, phase.emissions_gco2eq)
    return phase


def _phase_order(name: str) -> tuple[int, int, str]:
    prefix = f"{Phase.EPOCH}-"
    if name.startswith(prefix) and name[len(prefix) :].isdigit():
        return (1, int(name[len(prefix) :]), name)
    return (0, 0, name)
