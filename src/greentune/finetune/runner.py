"""`run(spec)`: one fine-tuning job on HF Seq2SeqTrainer, measured per phase, recorded in the ledger.

`run()` reads top to bottom in the order things happen:

1. checks that need no weights: the strategies can run here (the `frugal`
   recipe resolved first; a refusal writes nothing), the ledger opens (a
   corrupt or unreachable ledger fails in seconds, before any model loads),
   the accounting site resolves;
2. the run folder beside the ledger (`greentune.paths`): spec.yaml, then the
   RUNNING record in the ledger (refreshed by a heartbeat while it runs);
3. `_execute` — inside the meter's `run` window: load model and data
   (`load`), train with evaluation (`train`, `epoch-N`, `eval-loss`,
   `generate`, `checkpoint`), optionally test (`test`) — returns an immutable
   `Outcome`: FINISHED, FAILED (an exception) or KILLED (Ctrl-C, SIGTERM),
   with whatever it got that far;
4. `build_record` (pure: outcome + measurements + site → `RunRecord`; the
   carbon accounting happens there and only there);
5. the run's files, in this order: data_report.json, predictions,
   emissions.csv, run_record.json; then the ledger. If the ledger write fails,
   the record stays in the run folder with a PENDING_SYNC marker for
   `greentune ledger sync`, and the user is told so in one line.

The exception of a failed or killed run is raised again after all that.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from greentune.errors import GreentuneError
from greentune.finetune.data import SYNTHETIC, TextSplit, TextSplits, load_splits
from greentune.finetune.data_report import data_report, report_metrics
from greentune.finetune.families import family_notes, seq2seq_collator
from greentune.finetune.models import count_parameters, identify_model, load_model
from greentune.finetune.recipe import Hardware, resolve_recipe
from greentune.finetune.rouge import ROUGE_KEYS, compute_rouge
from greentune.finetune.spec import ExperimentSpec, flatten, strategy_label
from greentune.finetune.stopping import training_end
from greentune.finetune.storage import storage_bytes
from greentune.finetune.strategies import (
    apply_to_model,
    check_pretrained_dtype,
    check_runnable,
    recorded_strategies,
    training_arguments,
)
from greentune.ledger import (
    ComponentEnergy,
    PhaseFootprint,
    RunRecord,
    RunStatus,
    check_ledger,
    finish_run,
    mark_pending,
    mark_synced,
    reserve_record,
    save_record,
    start_run,
    touch_run,
)
from greentune.ledger.pending import RUNS_FOLDER
from greentune.ledger.record import (
    AccountingInput,
    KvCache,
    Phase,
    PowerLimitProfile,
    PowerLimitSummary,
    StopReason,
    energy_source_of,
)
from greentune.meter.host import cpu_model_name
from greentune.paths import checkpoint_dir, home_for, make_owned_dir, remove_owned_dir, slug

if TYPE_CHECKING:
    from greentune.carbon import Site
    from greentune.finetune.callback import GreenCallback, GreenSummary
    from greentune.finetune.emissions import RunEmissions
    from greentune.finetune.eval_trainer import EvalTrainer

HEARTBEAT_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Predictions:
    """Generated summaries of one split, beside their references."""

    split: TextSplit
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What one execution produced, as far as it got; immutable, built step by step with `replace`."""

    status: RunStatus = RunStatus.RUNNING
    failure: BaseException | None = None
    notes: tuple[str, ...] = ()
    data_report: dict[str, Any] = field(default_factory=dict)
    parameters: tuple[int, int] | None = None
    batch_size_used: int | None = None
    eval_history: tuple[dict[str, float], ...] = ()
    rouge: dict[str, float] = field(default_factory=dict)
    test_rouge: dict[str, float] = field(default_factory=dict)
    validation_predictions: Predictions | None = None
    test_predictions: Predictions | None = None
    stop_reason: StopReason | None = None
    rouge_evaluations: int | None = None
    eval_cache: KvCache | None = None


@dataclass(frozen=True)
class RunPlaces:
    """Where one run writes: its own folder, and the checkpoint folder `--resume` finds again."""

    folder: Path
    checkpoint_dir: Path
    resume_from: str | None


@dataclass(frozen=True)
class RecordInputs:
    """Everything `build_record` turns into a `RunRecord`."""

    spec: ExperimentSpec
    run_id: str
    run_name: str
    started: datetime
    folder: Path
    outcome: Outcome
    summary: GreenSummary
    site: Site
    hardware: str
    device_count: int
    model_type: str
    emissions: RunEmissions
    follower: Any = None
    power_limit: PowerLimitSummary | None = None


def run(
    spec: ExperimentSpec,
    resume: bool = False,
    progress: Any = None,
    follower: Any = None,
    extra_callbacks: Callable[[Any], list[Any]] | None = None,
    amend_record: Callable[[RunRecord], RunRecord] | None = None,
) -> RunRecord:
    """Fine-tune as the spec says and record the run; returns the stored record.

    `progress` is an optional `rich.progress.Progress` to draw bars on. Files go
    beside the ledger (`greentune.paths.home_for`): the run's folder
    `runs/<time>-<run name>-<id>/` and its checkpoints
    `checkpoints/<experiment>/<run name>/` (found again by `resume`).
    `follower` (a `carbon_aware.PlanFollower`) trains along a carbon-aware plan instead of in one go.
    Hooks for a sweep: `extra_callbacks(green_callback)` returns more Trainer callbacks (called once the
    meter runs); `amend_record(record)` returns the record to store instead (e.g. with its sweep trial).
    """
    _prefer_passive_omp_wait()
    site = spec.site.resolve()  # an unknown location or SKU: one line before torch, the ledger or the model load
    import torch

    has_cuda = torch.cuda.is_available()
    resolved = resolve_recipe(
        spec.strategies, Hardware(has_cuda, has_cuda and torch.cuda.is_bf16_supported()), spec.train.eval_strategy
    )
    spec = spec.model_copy(update={"strategies": resolved.strategies})
    check_runnable(spec.strategies, has_cuda)  # a strategy this machine cannot run: one line, nothing written
    uri = check_ledger(spec.ledger.tracking_uri)  # a broken ledger fails now, not after hours of training
    identity = identify_model(spec.model)
    warning = check_pretrained_dtype(spec.strategies, identity)
    run_name = spec.run_name()
    started = datetime.now(UTC)
    places = _prepare_places(spec, home_for(uri), run_name, started, resume)
    _write_file(places.folder / "spec.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    hardware, device_count = _hardware(has_cuda), _device_count(has_cuda)
    begun = start_run(
        _running_record(spec, run_name, started, places.folder, site, hardware, device_count),
        params=flatten(spec),
        tracking_uri=uri,
    )
    try:  # room for the final record, taken now: a disk that fills up during training cannot lose it
        reserve_record(begun, places.folder)
    except OSError as error:
        raise GreentuneError(
            f"cannot write the run folder {places.folder}: {error.strerror}; free space or fix its permissions "
            f"(the ledger shows run {begun.run_id} as RUNNING until then, LOST after)"
        ) from None

    from greentune.finetune.callback import GreenCallback

    callback = GreenCallback(
        log_path=places.folder / "meter.jsonl",
        interval_ms=spec.meter.interval_ms,
        scope=spec.meter.scope,
        power_limit=_power_limit_optimizer(spec),
    )
    notes = (*resolved.notes, *(note for note in (warning,) if note), *callback.meter.notes)  # meter: CPU basis
    if places.resume_from is not None:
        notes += (f"resumed from {Path(places.resume_from).name}; time and energy cover this session only",)
    heartbeat = _Heartbeat(begun.run_id, uri)
    previous_sigterm = _raise_on_sigterm()
    callback.begin()
    more_callbacks = extra_callbacks(callback) if extra_callbacks is not None else []
    heartbeat.start()
    try:
        outcome = _execute(spec, callback, places, progress, follower, has_cuda, Outcome(notes=notes), more_callbacks)
    finally:
        callback.close()
        _restore_sigterm(previous_sigterm)
        heartbeat.stop()
    from greentune.finetune.emissions import run_emissions

    emissions = run_emissions(places.folder / "meter.jsonl", site, follower, started)
    record = build_record(
        RecordInputs(
            spec=spec,
            run_id=begun.run_id,
            run_name=run_name,
            started=started,
            folder=places.folder,
            outcome=outcome,
            summary=callback.summary(emissions_of=emissions.window_gco2eq),
            site=site,
            hardware=hardware,
            device_count=device_count,
            model_type=identity.model_type,
            emissions=emissions,
            follower=follower,
            power_limit=_power_limit_summary(callback.power_limit),
        )
    )
    record = record.model_copy(update={"storage_bytes": storage_bytes(places.checkpoint_dir)})
    if amend_record is not None:
        record = amend_record(record)
    stored = _keep(record, outcome, callback, uri)
    if isinstance(outcome.failure, Terminated):
        raise SystemExit(128 + signal.SIGTERM)
    if outcome.failure is not None:
        raise outcome.failure
    return stored


def _keep(record: RunRecord, outcome: Outcome, callback: GreenCallback, uri: str) -> RunRecord:
    """Write the run's files, then the record (in its reserved bytes), then the ledger.

    A file that cannot be written (a full disk) is named in the record's notes
    and skipped; a failed ledger write leaves the record in the folder, marked
    PENDING_SYNC, and becomes one line that says where it is.
    """
    folder = Path(record.artifact_dir or ".")
    measured = callback.summary().run
    writes: list[tuple[str, Callable[[Path], None]]] = [
        ("data_report.json", partial(_write_json, data=outcome.data_report))
    ]
    for name, predictions in (
        ("predictions_validation.jsonl", outcome.validation_predictions),
        ("predictions_test.jsonl", outcome.test_predictions),
    ):
        if predictions is not None:
            writes.append((name, partial(_write_predictions, predictions=predictions)))
    if measured is not None:
        writes.append(
            (
                "emissions.csv",
                partial(_write_emissions, measurement=measured, record=record, hardware=callback.meter.hardware),
            )
        )
    not_written = []
    for name, write in writes:
        try:
            write(folder / name)
        except OSError as error:
            not_written.append(f"{name} ({error.strerror})")
        except GreentuneError as error:  # the CSV writer's one line for an OSError
            cause = error.__cause__
            not_written.append(f"{name} ({cause.strerror if isinstance(cause, OSError) else error})")
    if callback.meter.log_error is not None:
        not_written.append(f"meter.jsonl after {callback.meter.log_error.strerror}")
    if not_written:
        record = record.model_copy(update={"notes": [*record.notes, f"not written: {', '.join(not_written)}"]})
    figures = f"{record.status}, {record.energy_kwh:.3g} kWh, {record.emissions_gco2eq:.3g} gCO2eq"
    try:
        save_record(record, folder)
    except OSError as error:
        kept = f"and {folder / 'run_record.json'} could not be written either ({error.strerror})"
    else:
        kept = f"its record is kept in {folder / 'run_record.json'}; run `greentune ledger sync` when the ledger works"
    artifacts = sorted(path for path in folder.iterdir() if path.is_file() and path.name[0].isalnum())
    try:
        stored = finish_run(record, artifacts, extra_metrics=_extra_metrics(outcome), tracking_uri=uri)
    except GreentuneError as error:
        with suppress(OSError):
            mark_pending(folder, str(error))
        first = f" (the run itself failed first: {type(outcome.failure).__name__})" if outcome.failure else ""
        raise GreentuneError(
            f"run {record.run_name} ended ({figures}){first} but the ledger write failed: {error} — {kept}"
        ) from None
    mark_synced(folder)
    return stored


def _prepare_places(spec: ExperimentSpec, home: Path, run_name: str, started: datetime, resume: bool) -> RunPlaces:
    """The run folder (new, marked as greentune's) and the checkpoint folder, both under `home`."""
    checkpoints = checkpoint_dir(home, spec.ledger.experiment, run_name)
    resume_from = _checkpoint_to_resume(checkpoints) if resume else None
    if resume_from is None:
        if checkpoints.exists():
            remove_owned_dir(checkpoints, home)  # only a folder greentune made; never one a name points at
        make_owned_dir(checkpoints)
    folder = home / RUNS_FOLDER / f"{started:%Y%m%dT%H%M%S}-{slug(run_name)}-{uuid.uuid4().hex[:6]}"
    return RunPlaces(make_owned_dir(folder), checkpoints, resume_from)


def _running_record(
    spec: ExperimentSpec,
    run_name: str,
    started: datetime,
    folder: Path,
    site: Site,
    hardware: str,
    device_count: int,
) -> RunRecord:
    """The record a run starts with in the ledger: RUNNING, nothing measured yet, where and who it is."""
    return RunRecord(
        run_id="",
        run_name=run_name,
        experiment=spec.ledger.experiment,
        status=RunStatus.RUNNING,
        start_time=started.isoformat(),
        model_name=spec.model.name,
        dataset_name=spec.data.name,
        strategies={**recorded_strategies(spec.strategies, None), "label": strategy_label(spec.strategies)},
        spec=spec.model_dump(mode="json"),
        hardware=hardware,
        device_count=device_count,
        duration_s=0.0,
        energy_kwh=0.0,
        location=site.location,
        intensity_gco2eq_per_kwh=site.intensity_gco2eq_per_kwh,
        pue=site.pue,
        emissions_gco2eq=0.0,
        artifact_dir=str(folder.resolve()),
        host=socket.gethostname(),
        pid=os.getpid(),
    )


def build_record(inputs: RecordInputs) -> RunRecord:
    """The run as the ledger stores it, with measured figures up to its end or failure; pure (no files, no ledger)."""
    from greentune.carbon import account

    spec, outcome, summary = inputs.spec, inputs.outcome, inputs.summary
    measured = summary.run
    if measured is None:
        raise RuntimeError("build_record needs the run window closed (callback.close())")
    components = [ComponentEnergy(name=c.name, energy_kwh=c.energy_kwh, source=c.source) for c in measured.components]
    energy_source = energy_source_of(components)  # the record's own rule
    # the one place a run's carbon and cost are accounted
    emissions = inputs.emissions
    accounting = account(
        measured.energy_kwh,
        measured.duration_s,
        inputs.site,
        energy_source=energy_source,
        resolved=emissions.resolved,
    )
    return RunRecord(
        run_id=inputs.run_id,
        run_name=inputs.run_name,
        experiment=spec.ledger.experiment,
        status=outcome.status,
        start_time=inputs.started.isoformat(),
        model_name=spec.model.name,
        dataset_name=spec.data.name,
        strategies={
            **recorded_strategies(spec.strategies, outcome.batch_size_used),
            "label": strategy_label(spec.strategies),
        },
        spec=spec.model_dump(mode="json"),
        hardware=inputs.hardware,
        device_count=inputs.device_count,
        duration_s=measured.duration_s,
        energy_kwh=measured.energy_kwh,
        components=components,
        phases=[
            PhaseFootprint(
                name=p.name, duration_s=p.duration_s, energy_kwh=p.energy_kwh, emissions_gco2eq=p.emissions_gco2eq
            )
            for p in summary.phases
        ],
        location=accounting.location,
        intensity_gco2eq_per_kwh=accounting.intensity_gco2eq_per_kwh,
        pue=accounting.pue,
        emissions_gco2eq=accounting.emissions_gco2eq,
        emissions_method=accounting.method_label,
        intensity_kind=accounting.intensity_kind,
        annual_average_emissions_gco2eq=accounting.annual_average_emissions_gco2eq,
        annual_average_intensity_gco2eq_per_kwh=accounting.annual_average_intensity_gco2eq_per_kwh,
        embodied_gco2eq=accounting.embodied_gco2eq,
        cost_usd=accounting.cost_usd,
        rouge=outcome.rouge,
        test_rouge=outcome.test_rouge,
        samples_per_s=summary.samples_per_s,
        tokens_per_s=summary.tokens_per_s,
        total_flos=summary.total_flos,
        peak_ram_bytes=measured.peak_ram_bytes,
        peak_vram_bytes=measured.peak_vram_bytes,
        avg_cpu_util_pct=measured.avg_cpu_util_pct,
        avg_gpu_util_pct=measured.avg_gpu_util_pct,
        avg_power_w=measured.avg_power_w,
        peak_power_w=measured.peak_power_w,
        epochs_run=summary.epochs_run,
        epochs_budget=summary.epochs_budget,
        early_stopping_saved_kwh=summary.early_stopping_saved_kwh if spec.strategies.early_stopping.enabled else None,
        stop_reason=outcome.stop_reason,
        rouge_evaluations=outcome.rouge_evaluations,
        eval_cache=outcome.eval_cache,
        artifact_dir=str(inputs.folder.resolve()),
        accounting_inputs=[AccountingInput(**asdict(item)) for item in accounting.inputs],
        eval_history=[{key: value for key, value in entry.items()} for entry in outcome.eval_history],
        data_report=outcome.data_report,
        notes=[*outcome.notes, *accounting.notes, *emissions.notes, f"model type {inputs.model_type}"],
        carbon_aware=(
            inputs.follower.summary(emissions, accounting.emissions_gco2eq) if inputs.follower is not None else None
        ),
        power_limit=inputs.power_limit,
        host=socket.gethostname(),
        pid=os.getpid(),
    )


class Terminated(BaseException):
    """SIGTERM arrived (a scheduler or `kill` stopped the job): recorded as KILLED like Ctrl-C."""


def _raise_on_sigterm() -> Any:
    """Turn SIGTERM into `Terminated` in the main thread; returns the previous handler (None elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


class _Heartbeat:
    """Refresh the RUNNING record's heartbeat every `HEARTBEAT_INTERVAL_S` from a daemon thread.

    A missed beat (the ledger busy or down) is skipped: the final write is what
    counts, and a LOST verdict on the same machine looks at the process, not the beat.
    """

    def __init__(self, run_id: str, tracking_uri: str) -> None:
        self._run_id, self._uri = run_id, tracking_uri
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="greentune-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                touch_run(self._run_id, self._uri)
            except GreentuneError:
                continue


def _prefer_passive_omp_wait() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    On a CPU shared with other processes, spinning threads burn the cores the
    others need: on our 2-core machine a small training loop ran 2× slower
    (wall) and used 2× the CPU time with the default policy. Takes effect only
    if torch is not imported yet (OpenMP reads it when it loads).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _power_limit_optimizer(spec: ExperimentSpec) -> Any:
    """A `PowerLimitOptimizer` over the visible GPUs when the spec asks for a power limit."""
    strategies = spec.strategies
    if strategies.power_limit is None:
        return None
    from greentune.power_limit import Objective, PowerLimitOptimizer, nvml_controls

    profile = strategies.power_profile
    return PowerLimitOptimizer(
        nvml_controls(),
        objective=Objective(profile.objective),
        max_slowdown_pct=profile.max_slowdown_pct,
        warmup_steps=profile.warmup_steps,
        profile_steps=profile.profile_steps,
        step_w=profile.step_w,
        fixed_limit_w=None if strategies.power_limit == "auto" else strategies.power_limit,
    )


def _power_limit_summary(optimizer: Any) -> PowerLimitSummary | None:
    if optimizer is None:
        return None
    result = optimizer.result()
    return PowerLimitSummary(
        objective=str(result.objective),
        original_limits_w=list(result.original_limits_w),
        profiles=[PowerLimitProfile(**asdict(profile)) for profile in result.profiles],
        chosen_w=result.chosen_w,
        applied=result.applied,
        note=result.note,
    )


def _checkpoint_to_resume(checkpoint_dir: Path) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if last is None:
        raise GreentuneError(
            f"--resume found no Trainer checkpoint under {checkpoint_dir}; "
            "run without --resume (and keep train.save_checkpoints: true to make one)"
        )
    return str(last)


def _execute(
    spec: ExperimentSpec,
    callback: GreenCallback,
    places: RunPlaces,
    progress: Any,
    follower: Any,
    has_cuda: bool,
    start: Outcome,
    extra_callbacks: list[Any],
) -> Outcome:
    """Load, train with evaluations, optionally test; the outcome as far as it got, with its status."""
    outcome = start
    try:
        import datasets
        from transformers import set_seed

        datasets.disable_progress_bars()
        if spec.train.threads:
            import torch

            torch.set_num_threads(spec.train.threads)
        set_seed(spec.train.seed)  # before loading: the decoder's new cross-attention is initialised randomly
        with callback.phase(Phase.LOAD):
            loaded = load_model(spec.model)
            tokenizer = loaded.tokenizer
            vocabulary = _whole_words(tokenizer) if spec.data.name == SYNTHETIC else None
            splits = load_splits(spec.data, seed=spec.train.seed, vocabulary=vocabulary)
            report = data_report(tokenizer, splits, spec.data.max_source_tokens, spec.data.max_target_tokens)
            model = apply_to_model(loaded.model, spec.strategies)
            _configure_generation(model, spec)
            outcome = replace(
                outcome,
                data_report=report,
                parameters=count_parameters(model),
                notes=(*outcome.notes, *family_notes(model.config, spec.data.max_source_tokens)),
            )
            train_set = _tokenized(tokenizer, splits.train, spec)
            if spec.strategies.token_budget is not None:
                report = {**report, "train_batching": _batching_report(train_set, spec)}
            validation_set = _tokenized(tokenizer, splits.validation, spec)
            report = {**report, "eval_batching": _eval_batching_report(validation_set, spec)}
            outcome = replace(outcome, data_report=report)
        trainer = _trainer(
            spec,
            callback,
            model,
            tokenizer,
            train_set,
            validation_set,
            places.checkpoint_dir,
            progress,
            has_cuda,
            list(splits.validation.targets),
            extra_callbacks,
        )
        if follower is not None:
            follower.train(trainer, callback, places.resume_from)
        else:
            trainer.train(resume_from_checkpoint=places.resume_from)
        ended = training_end(
            trainer.state, spec.train.max_steps is not None, _early_stopping(trainer), _early_metric(spec)
        )
        outcome = replace(
            outcome,
            batch_size_used=trainer.state.train_batch_size,
            stop_reason=ended.reason,
            notes=(*outcome.notes, *(note for note in (ended.note,) if note)),
        )
        outcome = _validation(spec, callback, trainer, splits, outcome)
        if spec.train.run_test and splits.test is not None:
            with callback.phase(Phase.TEST):
                outcome = _test(spec, trainer, tokenizer, splits, outcome)
    except (KeyboardInterrupt, Terminated) as interrupt:
        why = "terminated (SIGTERM)" if isinstance(interrupt, Terminated) else "interrupted by the user"
        return replace(
            outcome,
            status=RunStatus.KILLED,
            failure=interrupt,
            notes=(*outcome.notes, f"{why}; figures cover the run up to that point"),
        )
    except Exception as error:  # any failure is recorded, then raised again
        first_line = str(error).splitlines()[0] if str(error) else ""
        return replace(
            outcome,
            status=RunStatus.FAILED,
            failure=error,
            notes=(*outcome.notes, f"failed: {type(error).__name__}: {first_line}"),
        )
    return replace(outcome, status=RunStatus.FINISHED)


def _trainer(
    spec: ExperimentSpec,
    callback: GreenCallback,
    model: Any,
    tokenizer: Any,
    train_set: Any,
    validation_set: Any,
    checkpoint_dir: Path,
    progress: Any,
    has_cuda: bool,
    references: list[str],
    extra_callbacks: list[Any],
) -> EvalTrainer:
    from transformers import EarlyStoppingCallback, PrinterCallback, Seq2SeqTrainingArguments

    from greentune.finetune.eval_generation import GenerationPlan
    from greentune.finetune.eval_trainer import EvalTrainer

    train, early = spec.train, spec.strategies.early_stopping
    save = train.save_checkpoints or early.enabled
    arguments = Seq2SeqTrainingArguments(
        output_dir=str(checkpoint_dir),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps or -1,
        learning_rate=train.learning_rate,
        warmup_steps=train.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        weight_decay=train.weight_decay,
        label_smoothing_factor=train.label_smoothing,
        seed=train.seed,
        per_device_eval_batch_size=train.eval_batch_size,
        eval_strategy=train.eval_strategy,
        eval_steps=train.eval_steps,
        save_strategy=train.eval_strategy if save and train.eval_strategy != "no" else ("epoch" if save else "no"),
        save_steps=train.eval_steps or 500,  # Trainer's default; read only when saving by steps
        save_total_limit=1,
        # checkpoints kept only so early stopping can restore the best weights: no optimizer state
        save_only_model=not train.save_checkpoints,
        load_best_model_at_end=early.enabled,
        metric_for_best_model=early.metric if early.enabled else None,
        greater_is_better=early.greater_is_better if early.enabled else None,
        predict_with_generate=False,  # EvalTrainer generates, on its own schedule and batches
        include_num_input_tokens_seen="non_padding",
        logging_strategy="epoch",
        report_to=[],
        disable_tqdm=True,
        use_cpu=not has_cuda,
        **training_arguments(spec.strategies),
    )
    callbacks: list[Any] = [callback, *extra_callbacks]
    if early.enabled:
        callbacks.append(EarlyStoppingCallback(early.patience, early.threshold))
    if progress is not None:
        from greentune.finetune.progress import RichProgressCallback

        callbacks.append(RichProgressCallback(progress, spec.run_name()))
    strategies = spec.strategies
    budget = strategies.token_budget
    trainer_class: type[EvalTrainer] = EvalTrainer
    extra: dict[str, Any] = {}
    if budget is not None:
        from greentune.finetune.budget_trainer import TokenBudgetTrainer

        trainer_class, extra = TokenBudgetTrainer, {"token_budget": budget}
    trainer = trainer_class(
        **extra,
        generation=GenerationPlan(
            batch_size=_eval_batch_size(spec),
            sort_by_length=strategies.eval_sort_by_length,
            static_cache=strategies.eval_static_cache,
        ),
        references=references,
        rouge_every_epochs=strategies.rouge_every_epochs,
        model=model,
        args=arguments,
        train_dataset=train_set,
        eval_dataset=validation_set,
        data_collator=seq2seq_collator(tokenizer, model),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # the ledger and the progress bars report instead
    return trainer


def _early_stopping(trainer: Any) -> Any:
    """The Trainer's EarlyStoppingCallback, or None."""
    from transformers import EarlyStoppingCallback

    return next((cb for cb in trainer.callback_handler.callbacks if isinstance(cb, EarlyStoppingCallback)), None)


def _early_metric(spec: ExperimentSpec) -> str | None:
    early = spec.strategies.early_stopping
    return early.metric if early.enabled else None


def _validation(
    spec: ExperimentSpec,
    callback: GreenCallback,
    trainer: EvalTrainer,
    splits: TextSplits,
    outcome: Outcome,
) -> Outcome:
    """Validation ROUGE of the weights training kept: the best evaluation when early stopping restored it, else the last.

    When that evaluation ran no ROUGE (`rouge_every_epochs` skipped it), one generation pass on the kept
    weights gives it, metered as `validate`.
    """
    state = trainer.state
    evaluations = [entry for entry in state.log_history if "eval_loss" in entry]
    history = [
        {
            "epoch": float(entry["epoch"]),
            "eval_loss": float(entry["eval_loss"]),
            **{key: float(entry[f"eval_{key}"]) for key in ROUGE_KEYS if f"eval_{key}" in entry},
        }
        for entry in evaluations
    ]
    steps = [int(entry["step"]) for entry in evaluations]
    if not history:  # eval_strategy "no": one validation pass after training
        with callback.phase(Phase.VALIDATE):
            metrics = trainer.evaluate()
        history = [
            {
                "epoch": float(state.epoch or 0),
                "eval_loss": float(metrics["eval_loss"]),
                **{key: float(metrics[f"eval_{key}"]) for key in ROUGE_KEYS},
            }
        ]
        steps = [state.global_step]
    chosen = len(history) - 1
    notes = outcome.notes
    early = spec.strategies.early_stopping
    if early.enabled:
        chosen = _best_evaluation(history, early.metric, early.greater_is_better)
        notes += (
            f"validation ROUGE of the best evaluation by {early.metric} (epoch {history[chosen]['epoch']:g}), "
            "whose weights early stopping restored",
        )
    passes = {scored.global_step: scored for scored in trainer.rouge_passes}
    if ROUGE_KEYS[0] not in history[chosen]:
        with callback.phase(Phase.VALIDATE):
            scored = trainer.rouge_pass()
        passes[steps[chosen]] = scored
        history[chosen] = {**history[chosen], **scored.rouge}
    kept = passes.get(steps[chosen])
    return replace(
        outcome,
        notes=notes,
        eval_history=tuple(history),
        rouge={key: history[chosen][key] for key in ROUGE_KEYS if key in history[chosen]},
        validation_predictions=Predictions(splits.validation, kept.texts if kept is not None else ()),
        rouge_evaluations=len(trainer.rouge_passes),
        eval_cache=trainer.rouge_passes[-1].cache if trainer.rouge_passes else None,
    )


def _best_evaluation(history: list[dict[str, float]], metric: str, greater_is_better: bool) -> int:
    """Index of the best evaluation as the Trainer picks it: the first of equals; a NaN (diverged) loss is worst."""

    def badness(index: int) -> float:
        value = history[index].get(metric, math.nan)
        if math.isnan(value):
            return math.inf
        return -value if greater_is_better else value

    return min(range(len(history)), key=badness)


def _test(spec: ExperimentSpec, trainer: EvalTrainer, tokenizer: Any, splits: TextSplits, outcome: Outcome) -> Outcome:
    assert splits.test is not None
    texts = list(trainer.summarize(_tokenized(tokenizer, splits.test, spec)).texts)
    return replace(
        outcome,
        test_rouge=compute_rouge(texts, list(splits.test.targets)),
        test_predictions=Predictions(splits.test, tuple(texts)),
    )


def _extra_metrics(outcome: Outcome) -> dict[str, float]:
    """Data-report and model-size metrics beside the record's own."""
    metrics = report_metrics(outcome.data_report) if outcome.data_report else {}
    if outcome.parameters is not None:
        metrics["parameters.trainable"] = float(outcome.parameters[0])
        metrics["parameters.total"] = float(outcome.parameters[1])
    if outcome.batch_size_used is not None:
        metrics["batch_size_used"] = float(outcome.batch_size_used)
    if outcome.rouge_evaluations is not None:
        metrics["rouge_evaluations"] = float(outcome.rouge_evaluations)
    return metrics


def _write_file(path: Path, text: str) -> None:
    """Write a run file; a full disk or a read-only folder becomes one line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise GreentuneError(f"cannot write {path}: {error.strerror}; free space or fix its permissions") from None


def _configure_generation(model: Any, spec: ExperimentSpec) -> None:
    config = model.generation_config
    config.num_beams = spec.generate.num_beams
    config.max_new_tokens = spec.generate.max_new_tokens
    config.min_new_tokens = spec.generate.min_new_tokens or None
    config.length_penalty = spec.generate.length_penalty
    config.no_repeat_ngram_size = spec.generate.no_repeat_ngram_size
    config.max_length = None
    config.early_stopping = spec.generate.num_beams > 1


def _tokenized(tokenizer: Any, split: TextSplit, spec: ExperimentSpec) -> Any:
    """Token ids of a split as a Dataset (built from lists: `Dataset.map` would spend seconds hashing the tokenizer)."""
    from datasets import Dataset

    inputs = tokenizer(split.sources, max_length=spec.data.max_source_tokens, truncation=True)
    labels = tokenizer(text_target=split.targets, max_length=spec.data.max_target_tokens, truncation=True)
    return Dataset.from_dict({**inputs, "labels": labels["input_ids"]})


def _batching_report(train_set: Any, spec: ExperimentSpec) -> dict[str, Any]:
    """Padding share of fixed-size batches against token-budget batches on the training split."""
    from greentune.finetune.budget_trainer import sample_lengths
    from greentune.finetune.token_batching import fixed_size_batches, padding_share, token_budget_batches

    lengths = sample_lengths(train_set)
    assert spec.strategies.token_budget is not None
    budget_batches = token_budget_batches(lengths, spec.strategies.token_budget)
    batch_size = spec.strategies.batch_size if isinstance(spec.strategies.batch_size, int) else 8
    fixed = fixed_size_batches(len(lengths), batch_size, spec.train.seed)
    return {
        "token_budget": spec.strategies.token_budget,
        "batches": len(budget_batches),
        "mean_batch_samples": round(len(lengths) / len(budget_batches), 2) if budget_batches else 0.0,
        "padding_share_fixed_batches": round(padding_share(lengths, fixed), 4),
        "padding_share_token_budget": round(padding_share(lengths, budget_batches), 4),
        "fixed_batch_size": batch_size,
    }


def _eval_batch_size(spec: ExperimentSpec) -> int:
    """Summaries per `generate` call in evaluation: `strategies.eval_batch_size`, else `train.eval_batch_size`."""
    return spec.strategies.eval_batch_size or spec.train.eval_batch_size


def _eval_batching_report(validation_set: Any, spec: ExperimentSpec) -> dict[str, Any]:
    """Padding share of evaluation's generation batches, in data-set order and sorted by source length."""
    from greentune.finetune.eval_generation import eval_batching_report

    report = eval_batching_report([len(ids) for ids in validation_set["input_ids"]], _eval_batch_size(spec))
    return {**report, "sorted_by_length": spec.strategies.eval_sort_by_length}


def _whole_words(tokenizer: Any) -> list[str]:
    """Vocabulary entries that are whole lowercase words, for synthetic text (≈ one token each)."""
    return sorted(word for word in tokenizer.get_vocab() if word.isalpha() and word.islower() and len(word) > 2)


def _write_json(path: Path, *, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _write_predictions(path: Path, *, predictions: Predictions) -> None:
    with path.open("w", encoding="utf-8") as file:
        for index, (reference, prediction) in enumerate(
            zip(predictions.split.targets, predictions.texts, strict=False)
        ):
            file.write(json.dumps({"index": index, "reference": reference, "prediction": prediction}) + "\n")


def _write_emissions(path: Path, *, measurement: Any, record: RunRecord, hardware: dict[str, Any]) -> None:
    """The run window in CodeCarbon's emissions.csv schema, with the record's emissions."""
    from greentune.meter import write_codecarbon_csv

    write_codecarbon_csv(
        path,
        [measurement],
        emissions_kg_by_window={measurement.name: record.emissions_gco2eq / 1000.0},
        hardware=hardware,
        project_name=record.run_name,
        pue=record.pue,
    )


def _hardware(has_cuda: bool) -> str:
    if has_cuda:
        import torch

        return f"gpu: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {cpu_model_name()} x{os.cpu_count() or 1}"


def _device_count(has_cuda: bool) -> int:
    if has_cuda:
        import torch

        return torch.cuda.device_count()
    return 1
