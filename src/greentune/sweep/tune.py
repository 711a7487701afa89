"""`run_sweep(request)`: a sweep on Ray Tune — one parent record of kind sweep, one child record per trial.

The driver: reserves the parent run in the ledger (its id is every trial's
`parent_run_id`), meters the whole sweep on this machine (for the idle time
between trials), starts Ray (local with `num_cpus=2` unless an address is
given), runs the Tuner with the chosen search algorithm (random or grid:
Tune's variant generator; Optuna TPE) and scheduler (FIFO, ASHA, PBT) — each
scheduler extended by `_Budgeted`, which stops trials when the budget is
reached, launches none whose projected cost passes it, and tells the trials
why they were stopped — then reads the trials' records back and writes the
parent with the search's footprint (KILLED after Ctrl-C: `interrupt`). Importing this module imports Ray (the
CLI imports it only inside `greentune sweep`).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ray import tune

from greentune.errors import GreentuneError
from greentune.ledger import (
    ComponentEnergy,
    RunKind,
    RunRecord,
    TrialStatus,
    default_tracking_uri,
    finish_run,
    read_runs,
    reserve_run,
    write_run,
)
from greentune.paths import home_for, make_owned_dir, slug
from greentune.sweep.budget import BudgetGate, Cost, Limits
from greentune.sweep.footprint import CounterPoint, FootprintRequest, Interval, idle_between, sweep_footprint
from greentune.sweep.interrupt import UserInterrupt
from greentune.sweep.spec import Distribution, SchedulerKind, SearchAlgorithm, SweepSpec
from greentune.sweep.trial import (
    COORDINATOR_PREFIX,
    Coordinator,
    PausedExploit,
    TrialSetup,
    cooperative_trainable,
    mark_exploited,
)


@dataclass(frozen=True)
class SweepRequest:
    """A sweep to run: the spec, where the sweep's own folder goes (None: beside the ledger), an optional progress."""

    sweep: SweepSpec
    runs_dir: Path | None = None
    progress: Any = None
    local_cpus: int = 2


def run_sweep(request: SweepRequest) -> RunRecord:
    """Run every trial of the sweep and record it; returns the stored parent record."""
    import ray

    sweep = request.sweep
    base = sweep.base_spec()
    site = base.site.resolve()  # an unknown location or SKU: one line before Ray starts or the ledger is written
    tracking_uri = base.ledger.tracking_uri or default_tracking_uri()
    runs_dir = (request.runs_dir or home_for(tracking_uri)).resolve()
    experiment = base.ledger.experiment
    started = datetime.now(UTC)
    parent_id = reserve_run(experiment, sweep.name, started.isoformat(), tracking_uri)
    sweep_dir = make_owned_dir(runs_dir / "sweeps" / f"{started:%Y%m%dT%H%M%S}-{slug(sweep.name)}-{parent_id[:6]}")
    meter = _start_meter(sweep_dir, base.meter.scope)
    started_ray = not ray.is_initialized()
    status = "FINISHED"
    gate = BudgetGate(Limits(sweep.budget.kwh, sweep.budget.gco2, sweep.budget.usd), _pricer(site))
    notes: list[str] = []
    try:
        if started_ray:
            init_ray(sweep.address, request.local_cpus)
        coordinator_name = f"{COORDINATOR_PREFIX}{parent_id}"
        coordinator = ray.remote(num_cpus=0)(Coordinator).options(name=coordinator_name).remote()
        setup = TrialSetup(
            sweep=sweep,
            parent_run_id=parent_id,
            tracking_uri=tracking_uri,
            coordinator_name=coordinator_name,
            checkpoint_every_epoch=sweep.scheduler.kind is SchedulerKind.PBT,
        )
        outcome = _fit(sweep, setup, gate, coordinator, sweep_dir, request.progress)
        if outcome.errors:
            notes.append(f"{outcome.errors} trial(s) failed; the sweep went on")
        _record_paused_exploits(outcome.paused_exploits, tracking_uri, experiment, parent_id)
        if outcome.interrupted:
            raise KeyboardInterrupt  # recorded below as any Ctrl-C is; the CLI says "interrupted", exit 130
    except KeyboardInterrupt:
        status = "KILLED"
        notes.append("interrupted by the user; trials recorded up to that point")
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        measurement = meter.end_window("sweep")
        points = [CounterPoint(s.t_unix_s, sum(s.energy_j.values())) for s in meter.timeline()]
        meter.stop()
        if started_ray:
            ray.shutdown()
        record = _parent_record(
            _ParentInputs(
                sweep=sweep,
                parent_id=parent_id,
                tracking_uri=tracking_uri,
                status=status,
                started=started,
                duration_s=measurement.duration_s,
                points=points,
                gate=gate,
                site=site,
                notes=notes,
                meter_log=sweep_dir / "meter.jsonl",
            )
        )
        stored = write_run(record, artifacts=[sweep_dir / "meter.jsonl"], tracking_uri=tracking_uri, run_id=parent_id)
    return stored


def init_ray(address: str | None = None, local_cpus: int = 2) -> None:
    """Connect to the Ray cluster at `address`, or start a local Ray with `local_cpus` CPUs and no dashboard.

    On a busy machine Ray's raylet can miss its fixed 30-second start-up deadline: a local start is tried
    up to five times, and the processes a failed attempt left behind are ended.
    """
    import os

    import psutil
    import ray

    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")  # trials keep the driver's folder: relative data paths work
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    for attempt in range(_RAY_START_ATTEMPTS):
        before = {child.pid for child in psutil.Process().children(recursive=True)}
        try:
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(num_cpus=local_cpus, include_dashboard=False, log_to_driver=False)
            return
        except Exception as error:  # Ray raises a bare Exception when its raylet starts too slowly
            ray.shutdown()
            _end_new_children(before)
            if address or attempt == _RAY_START_ATTEMPTS - 1:
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise GreentuneError(f"cannot start {where} ({message}); check --address or retry") from None


def _end_new_children(before: set[int]) -> None:
    """End the processes (Ray's GCS, dashboard, raylet) that a failed start of ours left running."""
    import psutil

    leftovers = [child for child in psutil.Process().children(recursive=True) if child.pid not in before]
    for child in leftovers:
        child.terminate()
    _, alive = psutil.wait_procs(leftovers, timeout=5)
    for child in alive:
        child.kill()


_RAY_START_ATTEMPTS = 5


def _pricer(site: Any) -> Any:
    from greentune.carbon import account

    def price(energy_kwh: float, duration_s: float) -> Cost:
        # the accounting refuses a zero duration; nothing reported yet costs (almost) nothing
        accounting = account(energy_kwh, max(duration_s, 1e-6), site)
        return Cost(energy_kwh, accounting.emissions_gco2eq, accounting.cost_usd)

    return price


def _start_meter(sweep_dir: Path, scope: Any) -> Any:
    from greentune.meter import Meter

    meter = Meter(interval_ms=1000, log_path=sweep_dir / "meter.jsonl", scope=scope, timeline_max_samples=200_000)
    meter.start()
    meter.begin_window("sweep")
    return meter


@dataclass(frozen=True)
class _FitOutcome:
    errors: int  # trials that ended in an error
    paused_exploits: list[PausedExploit]
    interrupted: bool  # the user pressed Ctrl-C: Tune stopped the trials early


def _fit(
    sweep: SweepSpec, setup: TrialSetup, gate: BudgetGate, coordinator: Any, sweep_dir: Path, progress: Any
) -> _FitOutcome:
    """Run the Tuner; returns how many trials ended in an error and PBT's exploits of paused trials."""
    metric = sweep.scheduler.metric
    scheduler = _scheduler(sweep, gate, coordinator)
    interrupt = UserInterrupt()
    trainable = tune.with_resources(
        cooperative_trainable(setup), {"cpu": sweep.resources.cpus, "gpu": sweep.resources.gpus}
    )
    tuner = tune.Tuner(
        trainable,
        param_space=_param_space(sweep),
        tune_config=tune.TuneConfig(
            metric=metric.value,
            mode=metric.mode,
            search_alg=_search_algorithm(sweep),
            scheduler=scheduler,
            num_samples=sweep.search.num_samples,
            max_concurrent_trials=sweep.search.max_concurrent,
            # a trial ends by returning after its record is written, so a worker can take the next trial
            # (starting a worker costs minutes of imports on a busy CPU); PBT pauses trials mid-run, and
            # a paused trial's worker must wait in `cleanup` for its record: no reuse there
            reuse_actors=sweep.scheduler.kind is not SchedulerKind.PBT,
        ),
        run_config=tune.RunConfig(
            name="ray",
            storage_path=str(sweep_dir),
            verbose=0,
            stop=interrupt,
            callbacks=[_ProgressCallback(progress, sweep.trial_count(), sweep.name)] if progress is not None else [],
        ),
    )
    try:
        with interrupt.catching():
            tuner.fit()  # the scheduler counts failed trials; the records hold the rest
    except RuntimeError as error:
        # Tune builds its ResultGrid after every trial has ended, and cannot for a trial the budget stopped
        # before it was launched (it has no folder); the sweep itself is complete then
        if "trial_dir_name" not in str(error):
            raise
    return _FitOutcome(scheduler.errors, list(scheduler.paused_exploits), interrupt.requested)


def _record_paused_exploits(exploits: list[PausedExploit], tracking_uri: str, experiment: str, parent_id: str) -> None:
    """Rewrite the records of the segments that PBT exploited while they were paused (they said paused)."""
    if not exploits:
        return
    children = [r for r in read_runs(tracking_uri=tracking_uri, experiment=experiment) if r.parent_run_id == parent_id]
    for exploit in exploits:
        paused = [
            r
            for r in children
            if r.trial is not None
            and r.trial.trial_id == exploit.trial_id
            and r.trial.status is TrialStatus.PAUSED
            and r.trial.stopped_at_epoch == exploit.epoch
        ]
        if paused:
            finish_run(mark_exploited(max(paused, key=lambda r: r.start_time), exploit), tracking_uri=tracking_uri)


def _domain(distribution: Distribution, as_grid: bool) -> Any:
    values = distribution.grid if distribution.grid is not None else distribution.choice
    if values is not None:
        return tune.grid_search(values) if (as_grid or distribution.grid is not None) else tune.choice(values)
    if distribution.uniform is not None:
        return tune.uniform(*distribution.uniform)
    assert distribution.loguniform is not None
    return tune.loguniform(*distribution.loguniform)


def _param_space(sweep: SweepSpec) -> dict[str, Any]:
    as_grid = sweep.search.algorithm is SearchAlgorithm.GRID
    return {key: _domain(distribution, as_grid) for key, distribution in sweep.space.items()}


def _search_algorithm(sweep: SweepSpec) -> Any:
    if sweep.search.algorithm is SearchAlgorithm.OPTUNA:
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=sweep.search.seed)
    from ray.tune.search import BasicVariantGenerator

    return BasicVariantGenerator(random_state=sweep.search.seed, max_concurrent=sweep.search.max_concurrent)


def _scheduler(sweep: SweepSpec, gate: BudgetGate, coordinator: Any) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining

    config = sweep.scheduler
    if config.kind is SchedulerKind.ASHA:
        max_epochs = _max_epochs(sweep)
        scheduler: Any = _subclass(ASHAScheduler)(
            time_attr="training_iteration",
            max_t=max(max_epochs, config.grace_period),
            grace_period=config.grace_period,
            reduction_factor=config.reduction_factor,
        )
    elif config.kind is SchedulerKind.PBT:
        keys = config.mutations or [key for key, d in sweep.space.items() if d.grid is None]
        if not keys:
            raise GreentuneError("scheduler pbt needs at least one space key to mutate (a choice or a range)")
        # PBT draws donors and mutations from the `random` module; other draws in the driver interleave, so two
        # runs of one sweep can still mutate differently
        random.seed(sweep.search.seed)
        scheduler = _subclass(PopulationBasedTraining)(
            time_attr="training_iteration",
            perturbation_interval=config.perturbation_interval,
            quantile_fraction=config.quantile_fraction,
            hyperparam_mutations={key: _mutation(sweep.space[key]) for key in keys},
            synch=config.synch,
        )
    else:
        scheduler = _subclass(FIFOScheduler)()
    scheduler.gate, scheduler.coordinator, scheduler.errors, scheduler.paused_exploits = gate, coordinator, 0, []
    return scheduler


def _mutation(distribution: Distribution) -> Any:
    """PBT's explore step for one key: a list (shift to a neighbouring value or resample), or a range (x 0.8 / 1.2)."""
    values = distribution.grid if distribution.grid is not None else distribution.choice
    return list(values) if values is not None else _domain(distribution, as_grid=False)


def _max_epochs(sweep: SweepSpec) -> int:
    epochs = [sweep.base_spec().train.epochs]
    if "train.epochs" in sweep.space:
        epochs.extend(float(value) for value in sweep.space["train.epochs"].edge_values())
    return math.ceil(max(epochs))


def _subclass(scheduler_class: type) -> type:
    """`scheduler_class` with the budget and the stop reasons (see `_Budgeted`)."""
    return type(f"Budgeted{scheduler_class.__name__}", (_Budgeted, scheduler_class), {})


class _Budgeted:
    """Mixed into a Tune scheduler: budget checks and, for every stop it causes, the reason left for the trial."""

    gate: BudgetGate
    coordinator: Any
    errors: int  # trials that ended in an error
    paused_exploits: list[PausedExploit]  # PBT only: trials it exploited while they were paused

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        from ray.tune.schedulers import TrialScheduler

        epoch = float(result.get("epoch", 0.0))
        self.gate.update(
            trial.trial_id,
            float(result.get("energy_kwh", 0.0)),
            float(result.get("duration_s", 0.0)),
            epoch,
            float(result.get("epochs_budget", 0.0)),
            int(result.get("segment", 1)),
        )
        last_epoch = _at_last_epoch(result)
        unit = self.gate.reached()
        if unit is not None and not last_epoch:
            # the trial stops itself on reading the reason, and records the run (see greentune.sweep.trial)
            self.gate.stopped += 1
            self._reason(trial, TrialStatus.STOPPED_BY_BUDGET, epoch, f"the {unit} budget was reached")
            return TrialScheduler.CONTINUE
        decision: str = super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]
        if decision in (TrialScheduler.STOP, TrialScheduler.PAUSE) and last_epoch:
            # after its last evaluation the trial ends by itself (a pause would start a worker to train nothing)
            return TrialScheduler.CONTINUE
        if decision == TrialScheduler.PAUSE and all(t is trial for t in tune_controller.get_live_trials()):
            # synchronous PBT pauses the last trial left too; it would only restart it from its own checkpoint
            return TrialScheduler.CONTINUE
        if decision == TrialScheduler.STOP:
            self._reason(trial, TrialStatus.PRUNED, epoch, "ASHA")
            return TrialScheduler.CONTINUE
        if decision == TrialScheduler.PAUSE:
            self._reason(trial, TrialStatus.PAUSED, epoch, "PBT: waits for its turn or the other trials")
        return decision

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        """PBT only: `trial` goes on from `trial_to_clone`'s checkpoint; the records name the donor.

        The running trial's segment ends with status exploited (its reason names the donor). A trial exploited
        while paused has recorded its segment as paused already: the sweep rewrites that record once the Tuner
        is done (`_record_paused_exploits`). Either way the next segment names the donor
        (`Coordinator.take_donor`). A trial at its last epoch is left alone: it has nothing left to train.
        """
        from ray.tune.experiment import Trial

        # PBT's state holds this perturbation's result; `trial.last_result` is the one before it
        result = self._trial_state[trial].last_result or {}  # type: ignore[attr-defined]
        if _at_last_epoch(result):
            return
        import ray

        donor = trial_to_clone.trial_id
        ray.get(self.coordinator.set_donor.remote(trial.trial_id, donor))
        if trial.status == Trial.RUNNING:
            self._reason(trial, TrialStatus.EXPLOITED, result.get("epoch"), f"by PBT from trial {donor}", donor)
        else:  # synchronous PBT: the trial waited, paused, and recorded its segment as paused
            self.paused_exploits.append(PausedExploit(trial.trial_id, donor, result.get("epoch")))
        super()._exploit(tune_controller, trial, trial_to_clone)  # type: ignore[misc]

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> None:
        self.gate.finish(trial.trial_id)
        super().on_trial_complete(tune_controller, trial, result)  # type: ignore[misc]

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        self.errors += 1
        self.gate.finish(trial.trial_id)
        super().on_trial_error(tune_controller, trial)  # type: ignore[misc]

    def on_trial_remove(self, tune_controller: Any, trial: Any) -> None:
        self.gate.finish(trial.trial_id)
        super().on_trial_remove(tune_controller, trial)  # type: ignore[misc]

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        from ray.tune.experiment import Trial

        if not self.gate.may_launch():
            for trial in list(tune_controller.get_trials()):
                if trial.status in (Trial.PENDING, Trial.PAUSED):
                    self.gate.not_launched += 1
                    tune_controller.stop_trial(trial)
            return None
        return super().choose_trial_to_run(tune_controller)  # type: ignore[misc]

    def _reason(
        self, trial: Any, status: TrialStatus, epoch: float | None, detail: str, donor: str | None = None
    ) -> None:
        import ray

        ray.get(self.coordinator.set_reason.remote(trial.trial_id, status.value, epoch, detail, donor))


def _at_last_epoch(result: dict[str, Any]) -> bool:
    """Whether a trial's reported `result` is from its last epoch."""
    return float(result.get("epoch", 0.0)) >= float(result.get("epochs_budget", math.inf))


class _ProgressCallback(tune.Callback):
    """Advance a Rich bar as trials end; Tune pickles its callbacks with the experiment, the bar stays behind."""

    def __init__(self, progress: Any, total: int, name: str) -> None:
        self._progress = progress
        self._task = progress.add_task(f"sweep {name}: trials", total=total)

    def __getstate__(self) -> dict[str, Any]:
        return {"_progress": None, "_task": None}

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)


@dataclass(frozen=True)
class _ParentInputs:
    sweep: SweepSpec
    parent_id: str
    tracking_uri: str
    status: str
    started: datetime
    duration_s: float
    points: list[CounterPoint]
    gate: BudgetGate
    site: Any
    meter_log: Path
    notes: list[str] = field(default_factory=list)


def _parent_record(inputs: _ParentInputs) -> RunRecord:
    """The sweep's own record: its trials (read back from the ledger), idle time, totals and footprint."""
    from greentune.carbon import account

    sweep, base = inputs.sweep, inputs.sweep.base_spec()
    children = [
        record
        for record in read_runs(tracking_uri=inputs.tracking_uri, experiment=base.ledger.experiment)
        if record.parent_run_id == inputs.parent_id and record.trial is not None
    ]
    start_s = inputs.started.timestamp()
    busy = [
        Interval(
            datetime.fromisoformat(r.start_time).timestamp(),
            datetime.fromisoformat(r.start_time).timestamp() + r.duration_s,
        )
        for r in children
    ]
    idle = idle_between(inputs.points, busy, Interval(start_s, start_s + inputs.duration_s))
    footprint = sweep_footprint(
        FootprintRequest(
            algorithm=sweep.search.algorithm.value,
            scheduler=sweep.scheduler.kind.value,
            metric=sweep.scheduler.metric.value,
            trials=children,
            idle=idle,
            target_rouge1=sweep.target_rouge1,
            budgets=inputs.gate.outcome(),
        )
    )
    idle_accounting = account(idle.energy_kwh, idle.duration_s, inputs.site, energy_source="estimated")
    components: dict[str, tuple[float, set[str]]] = {}
    for record in children:
        for component in record.components:
            energy, sources = components.get(component.name, (0.0, set()))
            components[component.name] = (energy + component.energy_kwh, sources | {component.source})
    costs = [r.cost_usd for r in children] + [idle_accounting.cost_usd]
    best = next((r for r in children if r.run_id == footprint.best_run_id), None)
    notes = list(inputs.notes)
    for budget in footprint.budgets:
        if budget.reached or budget.trials_not_launched:
            notes.append(
                f"{budget.unit} budget {budget.limit:g}: spent {budget.spent:.3g}; {budget.trials_stopped} running "
                f"trial(s) stopped, {budget.trials_not_launched} not launched"
            )
    if sweep.search.max_concurrent > 1 and base.meter.scope == "machine":
        notes.append(
            "concurrent trials each metered the whole machine: their energy overlaps (use meter.scope process)"
        )
    return RunRecord(
        run_id=inputs.parent_id,
        run_name=sweep.name,
        kind=RunKind.SWEEP,
        experiment=base.ledger.experiment,
        status=inputs.status,
        start_time=inputs.started.isoformat(),
        model_name=base.model.name,
        dataset_name=base.data.name,
        spec=sweep.model_dump(mode="json"),
        hardware=children[0].hardware if children else "unknown",
        duration_s=inputs.duration_s,
        energy_kwh=footprint.trials_kwh + footprint.idle_kwh,
        components=[
            ComponentEnergy(name=name, energy_kwh=energy, source="measured" if sources == {"measured"} else "estimated")
            for name, (energy, sources) in sorted(components.items())
        ]
        + [ComponentEnergy(name="idle", energy_kwh=idle.energy_kwh, source="estimated")],
        location=idle_accounting.location,
        intensity_gco2eq_per_kwh=idle_accounting.intensity_gco2eq_per_kwh,
        pue=idle_accounting.pue,
        emissions_gco2eq=sum(r.emissions_gco2eq for r in children) + idle_accounting.emissions_gco2eq,
        cost_usd=sum(c for c in costs if c is not None) if all(c is not None for c in costs) else None,
        rouge=best.rouge if best else {},
        artifact_dir=str(inputs.meter_log.parent),
        notes=notes,
        sweep=footprint,
    )
