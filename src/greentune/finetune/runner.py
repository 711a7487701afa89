"""`run(spec)`: one fine-tuning job on HF Seq2SeqTrainer, measured per phase, recorded in the ledger.

Order: check the strategies can run here (seconds, before any weights load),
resolve the accounting site, then — inside the meter's `run` window — load
model and data (`load`), train with evaluation (`train`, `epoch-N`,
`eval-loss`, `generate`, `checkpoint`), optionally score the test split
(`test`). Whatever happens, the record is written: FINISHED, FAILED (an
exception) or KILLED (Ctrl-C), with everything measured up to that point, and
the exception is raised again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from greentune.errors import GreentuneError
from greentune.finetune.data import SYNTHETIC, TextSplit, TextSplits, load_splits
from greentune.finetune.data_report import data_report, report_metrics
from greentune.finetune.families import family_notes, seq2seq_collator
from greentune.finetune.models import count_parameters, identify_model, load_model
from greentune.finetune.rouge import ROUGE_KEYS, compute_rouge
from greentune.finetune.spec import ExperimentSpec, flatten, strategy_label
from greentune.finetune.strategies import (
    apply_to_model,
    check_pretrained_dtype,
    check_runnable,
    recorded_strategies,
    training_arguments,
)
from greentune.ledger import ComponentEnergy, PhaseFootprint, RunRecord, write_run

RUNS_DIR = Path("greentune-runs")


@dataclass
class _Evaluations:
    """Predictions and scores of every evaluation, filled by compute_metrics."""

    references: list[str]
    predictions: list[list[str]] = field(default_factory=list)


def run(
    spec: ExperimentSpec,
    resume: bool = False,
    progress: Any = None,
    runs_dir: Path = RUNS_DIR,
    follower: Any = None,
) -> RunRecord:
    """Fine-tune as the spec says and record the run; returns the stored record.

    `progress` is an optional `rich.progress.Progress` to draw bars on.
    `runs_dir` holds checkpoints (`checkpoints/<experiment>/<run name>/`, found
    again by `resume`) and each run's local artifacts (`runs/<time>-<run name>-<id>/`).
    `follower` (a `carbon_aware.PlanFollower`) trains along a carbon-aware plan instead of in one go.
    """
    _prefer_passive_omp_wait()
    import torch

    has_cuda = torch.cuda.is_available()
    check_runnable(spec.strategies, has_cuda)
    identity = identify_model(spec.model)
    notes: list[str] = []
    warning = check_pretrained_dtype(spec.strategies, identity)
    if warning:
        notes.append(warning)
    site = _resolve_site(spec)

    run_name = spec.run_name()
    started = datetime.now(UTC)
    checkpoint_dir = runs_dir / "checkpoints" / spec.ledger.experiment / run_name
    resume_from = _checkpoint_to_resume(checkpoint_dir) if resume else None
    if resume_from is None and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir)
    if resume_from is not None:
        notes.append(f"resumed from {Path(resume_from).name}; time and energy cover this session only")
    artifact_dir = runs_dir / "runs" / f"{started:%Y%m%dT%H%M%S}-{run_name}-{uuid.uuid4().hex[:6]}"
    artifact_dir.mkdir(parents=True)
    (artifact_dir / "spec.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))

    from greentune.finetune.callback import GreenCallback

    callback = GreenCallback(
        log_path=artifact_dir / "meter.jsonl", interval_ms=spec.meter.interval_ms, scope=spec.meter.scope
    )
    notes.extend(callback.meter.notes)  # e.g. the per-core basis and range of an unknown CPU's estimate
    job = _Job(
        spec=spec, callback=callback, artifact_dir=artifact_dir, notes=notes, has_cuda=has_cuda, follower=follower
    )
    status = "FINISHED"
    failure: BaseException | None = None
    previous_sigterm = _raise_on_sigterm()
    callback.begin()
    try:
        job.execute(checkpoint_dir, resume_from, progress)
    except (KeyboardInterrupt, Terminated) as interrupt:
        status, failure = "KILLED", interrupt
        notes.append(
            f"{'terminated (SIGTERM)' if isinstance(interrupt, Terminated) else 'interrupted by the user'}; "
            "figures cover the run up to that point"
        )
    except Exception as error:  # any failure is recorded, then raised again
        status, failure = "FAILED", error
        notes.append(f"failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
    finally:
        callback.close()
        _restore_sigterm(previous_sigterm)
    record = job.record(status, run_name, started, site, identity.model_type)
    stored = write_run(
        record,
        artifacts=job.artifact_files(),
        params=flatten(spec),
        extra_metrics=job.extra_metrics(),
        tracking_uri=spec.ledger.tracking_uri,
    )
    if isinstance(failure, Terminated):
        raise SystemExit(128 + signal.SIGTERM)
    if failure is not None:
        raise failure
    return stored


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


def _prefer_passive_omp_wait() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    On a CPU shared with other processes, spinning threads burn the cores the
    others need: on our 2-core machine a small training loop ran 2× slower
    (wall) and used 2× the CPU time with the default policy. Takes effect only
    if torch is not imported yet (OpenMP reads it when it loads).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _resolve_site(spec: ExperimentSpec) -> Any:
    from greentune.carbon import resolve_site

    return resolve_site(spec.site.location, pue=spec.site.pue, sku=spec.site.sku, prices=spec.site.prices)


def _checkpoint_to_resume(checkpoint_dir: Path) -> str:
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if last is None:
        raise GreentuneError(
            f"--resume found no Trainer checkpoint under {checkpoint_dir}; "
            "run without --resume (and keep train.save_checkpoints: true to make one)"
        )
    return last


@dataclass
class _Job:
    """The state of one run while it executes, so that a failure can still be recorded."""

    spec: ExperimentSpec
    callback: Any
    artifact_dir: Path
    notes: list[str]
    has_cuda: bool
    splits: TextSplits | None = None
    report: dict[str, Any] = field(default_factory=dict)
    trainer: Any = None
    evaluations: _Evaluations | None = None
    eval_history: list[dict[str, float]] = field(default_factory=list)
    rouge: dict[str, float] = field(default_factory=dict)
    test_rouge: dict[str, float] = field(default_factory=dict)
    batch_size_used: int | None = None
    parameters: tuple[int, int] | None = None
    follower: Any = None

    def execute(self, checkpoint_dir: Path, resume_from: str | None, progress: Any) -> None:
        """Load, train with evaluations, optionally test; fills the fields the record is built from."""
        import datasets
        from transformers import set_seed

        datasets.disable_progress_bars()
        spec = self.spec
        if spec.train.threads:
            import torch

            torch.set_num_threads(spec.train.threads)
        set_seed(spec.train.seed)  # before loading: the decoder's new cross-attention is initialised randomly
        with self.callback.phase("load"):
            loaded = load_model(spec.model)
            tokenizer = loaded.tokenizer
            vocabulary = _whole_words(tokenizer) if spec.data.name == SYNTHETIC else None
            self.splits = load_splits(spec.data, seed=spec.train.seed, vocabulary=vocabulary)
            self.report = data_report(tokenizer, self.splits, spec.data.max_source_tokens, spec.data.max_target_tokens)
            (self.artifact_dir / "data_report.json").write_text(json.dumps(self.report, indent=2))
            model = apply_to_model(loaded.model, spec.strategies)
            _configure_generation(model, spec)
            self.notes.extend(family_notes(model.config, spec.data.max_source_tokens))
            self.parameters = count_parameters(model)
            train_set = _tokenized(tokenizer, self.splits.train, spec)
            validation_set = _tokenized(tokenizer, self.splits.validation, spec)
        self.evaluations = _Evaluations(references=list(self.splits.validation.targets))
        self.trainer = self._trainer(model, tokenizer, train_set, validation_set, checkpoint_dir, progress)
        if self.follower is not None:
            self.follower.train(self.trainer, self.callback, resume_from)
        else:
            self.trainer.train(resume_from_checkpoint=resume_from)
        self.batch_size_used = self.trainer.state.train_batch_size
        self._collect_validation()
        if spec.train.run_test and self.splits.test is not None:
            with self.callback.phase("test"):
                self._test(tokenizer)

    def _trainer(
        self,
        model: Any,
        tokenizer: Any,
        train_set: Any,
        validation_set: Any,
        checkpoint_dir: Path,
        progress: Any,
    ) -> Any:
        from transformers import (
            EarlyStoppingCallback,
            PrinterCallback,
            Seq2SeqTrainer,
            Seq2SeqTrainingArguments,
        )

        spec = self.spec
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
            save_steps=train.eval_steps,
            save_total_limit=1,
            # checkpoints kept only so early stopping can restore the best weights: no optimizer state
            save_only_model=not train.save_checkpoints,
            load_best_model_at_end=early.enabled,
            metric_for_best_model=early.metric if early.enabled else None,
            greater_is_better=True if early.enabled else None,
            predict_with_generate=True,
            include_num_input_tokens_seen="non_padding",
            logging_strategy="epoch",
            report_to=[],
            disable_tqdm=True,
            use_cpu=not self.has_cuda,
            **training_arguments(spec.strategies),
        )
        callbacks: list[Any] = [self.callback]
        if early.enabled:
            callbacks.append(EarlyStoppingCallback(early.patience, early.threshold))
        if progress is not None:
            from greentune.finetune.progress import RichProgressCallback

            callbacks.append(RichProgressCallback(progress, spec.run_name()))
        trainer = Seq2SeqTrainer(
            model=model,
            args=arguments,
            train_dataset=train_set,
            eval_dataset=validation_set,
            data_collator=seq2seq_collator(tokenizer, model),
            processing_class=tokenizer,
            compute_metrics=self._metrics_function(tokenizer),
            callbacks=callbacks,
        )
        trainer.remove_callback(PrinterCallback)  # the ledger and the progress bars report instead
        return trainer

    def _metrics_function(self, tokenizer: Any) -> Any:
        def compute_metrics(prediction: Any) -> dict[str, float]:
            texts = _decode(tokenizer, prediction.predictions)
            assert self.evaluations is not None
            self.evaluations.predictions.append(texts)
            return compute_rouge(texts, self.evaluations.references[: len(texts)])

        return compute_metrics

    def _collect_validation(self) -> None:
        """Validation ROUGE: the best evaluation when early stopping restored it, else the last one."""
        state = self.trainer.state
        self.eval_history = [
            {
                "epoch": float(entry["epoch"]),
                "eval_loss": float(entry["eval_loss"]),
                **{key: float(entry[f"eval_{key}"]) for key in ROUGE_KEYS if f"eval_{key}" in entry},
            }
            for entry in state.log_history
            if "eval_loss" in entry
        ]
        assert self.evaluations is not None
        if not self.eval_history:  # eval_strategy "no": one validation pass after training
            with self.callback.phase("validate"):
                metrics = self.trainer.evaluate()
            self.eval_history = [
                {
                    "epoch": float(state.epoch or 0),
                    "eval_loss": float(metrics["eval_loss"]),
                    **{key: float(metrics[f"eval_{key}"]) for key in ROUGE_KEYS},
                }
            ]
        chosen = len(self.eval_history) - 1
        if self.spec.strategies.early_stopping.enabled:
            metric = self.spec.strategies.early_stopping.metric
            chosen = max(range(len(self.eval_history)), key=lambda index: self.eval_history[index].get(metric, 0.0))
            self.notes.append(
                f"validation ROUGE of the best evaluation (epoch {self.eval_history[chosen]['epoch']:g}), "
                "whose weights early stopping restored"
            )
        self.rouge = {key: self.eval_history[chosen][key] for key in ROUGE_KEYS if key in self.eval_history[chosen]}
        offset = len(self.evaluations.predictions) - len(self.eval_history)
        predictions = self.evaluations.predictions[offset + chosen] if offset + chosen >= 0 else []
        _write_predictions(self.artifact_dir / "predictions_validation.jsonl", self.splits.validation, predictions)

    def _test(self, tokenizer: Any) -> None:
        assert self.splits is not None and self.splits.test is not None
        test_set = _tokenized(tokenizer, self.splits.test, self.spec)
        output = self.trainer.predict(test_set, metric_key_prefix="test")
        predictions = _decode(tokenizer, output.predictions)
        self.test_rouge = compute_rouge(predictions, list(self.splits.test.targets))
        _write_predictions(self.artifact_dir / "predictions_test.jsonl", self.splits.test, predictions)

    def artifact_files(self) -> list[Path]:
        """Local files logged to MLflow with the run."""
        return sorted(path for path in self.artifact_dir.iterdir() if path.is_file())

    def extra_metrics(self) -> dict[str, float]:
        """Data-report and model-size metrics beside the record's own."""
        metrics = report_metrics(self.report) if self.report else {}
        if self.parameters is not None:
            metrics["parameters.trainable"] = float(self.parameters[0])
            metrics["parameters.total"] = float(self.parameters[1])
        if self.batch_size_used is not None:
            metrics["batch_size_used"] = float(self.batch_size_used)
        return metrics

    def record(self, status: str, run_name: str, started: datetime, site: Any, model_type: str) -> RunRecord:
        """The run as the ledger stores it (measured figures up to now when it failed)."""
        from greentune.carbon import account

        summary = self.callback.summary()
        measured = summary.run
        components = [
            ComponentEnergy(name=c.name, energy_kwh=c.energy_kwh, source=c.source) for c in measured.components
        ]
        energy_source = "measured" if components and all(c.source == "measured" for c in components) else "estimated"
        accounting = account(measured.energy_kwh, measured.duration_s, site, energy_source=energy_source)
        _write_emissions(
            self.artifact_dir / "emissions.csv", measured, accounting, self.callback.meter.hardware, run_name
        )
        spec = self.spec
        return RunRecord(
            run_id="",
            run_name=run_name,
            experiment=spec.ledger.experiment,
            status=status,  # type: ignore[arg-type]
            start_time=started.isoformat(),
            model_name=spec.model.name,
            dataset_name=spec.data.name,
            strategies={
                **recorded_strategies(spec.strategies, self.batch_size_used),
                "label": strategy_label(spec.strategies),
            },
            spec=spec.model_dump(mode="json"),
            hardware=_hardware(self.has_cuda),
            device_count=_device_count(self.has_cuda),
            duration_s=measured.duration_s,
            energy_kwh=measured.energy_kwh,
            components=components,
            phases=[
                PhaseFootprint(name=p.name, duration_s=p.duration_s, energy_kwh=p.energy_kwh) for p in summary.phases
            ],
            location=accounting.location,
            intensity_gco2eq_per_kwh=accounting.intensity_gco2eq_per_kwh,
            pue=accounting.pue,
            emissions_gco2eq=accounting.emissions_gco2eq,
            embodied_gco2eq=accounting.embodied_gco2eq,
            cost_usd=accounting.cost_usd,
            rouge=self.rouge,
            test_rouge=self.test_rouge,
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
            early_stopping_saved_kwh=summary.early_stopping_saved_kwh
            if spec.strategies.early_stopping.enabled
            else None,
            artifact_dir=str(self.artifact_dir.resolve()),
            accounting_inputs=[asdict(item) for item in accounting.inputs],
            eval_history=self.eval_history,
            data_report=self.report,
            notes=[*self.notes, *accounting.notes, f"model type {model_type}"],
            carbon_aware=self.follower.to_record() if self.follower is not None else None,
        )


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


def _decode(tokenizer: Any, token_ids: Any) -> list[str]:
    import numpy as np

    ids = np.where(np.asarray(token_ids) < 0, tokenizer.pad_token_id, token_ids)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def _whole_words(tokenizer: Any) -> list[str]:
    """Vocabulary entries that are whole lowercase words, for synthetic text (≈ one token each)."""
    return sorted(word for word in tokenizer.get_vocab() if word.isalpha() and word.islower() and len(word) > 2)


def _write_predictions(path: Path, split: TextSplit, predictions: list[str]) -> None:
    with path.open("w") as file:
        for index, (reference, prediction) in enumerate(zip(split.targets, predictions, strict=False)):
            file.write(json.dumps({"index": index, "reference": reference, "prediction": prediction}) + "\n")


def _write_emissions(path: Path, measurement: Any, accounting: Any, hardware: dict[str, Any], run_name: str) -> None:
    """The run window in CodeCarbon's emissions.csv schema, with the accounting's emissions."""
    from greentune.meter import write_codecarbon_csv

    write_codecarbon_csv(
        path,
        [measurement],
        emissions_kg_by_window={measurement.name: accounting.emissions_gco2eq / 1000.0},
        hardware=hardware,
        project_name=run_name,
        pue=accounting.pue,
    )


def _hardware(has_cuda: bool) -> str:
    if has_cuda:
        import torch

        return f"gpu: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    return f"cpu: {_cpu_model()} x{os.cpu_count() or 1}"


def _device_count(has_cuda: bool) -> int:
    if has_cuda:
        import torch

        return torch.cuda.device_count()
    return 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
