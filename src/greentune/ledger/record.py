"""`RunRecord`: one fine-tuning, evaluation or serving job, as the ledger stores it.

The contract between the runner (writes), the ledger (stores in MLflow) and the
report (reads). Units live in field names; every energy figure says whether it
was measured or estimated.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from greentune.schedule.choices import ClockKind, Mode

Source = Literal["measured", "estimated"]
IntensityKind = Literal["average", "marginal"]
ANNUAL_AVERAGE_METHOD = "annual average"


class RunStatus(StrEnum):
    """Where a job stands: the one list of statuses.

    RUNNING, FINISHED, FAILED and KILLED are MLflow's own; LOST is greentune's
    reading of a RUNNING run whose process is gone (SIGKILL, OOM, power loss).
    """

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    LOST = "LOST"


class RunKind(StrEnum):
    """What kind of job a record describes."""

    TRAIN = "train"
    SWEEP = "sweep"
    SERVE = "serve"
    INFER = "infer"


class Phase(StrEnum):
    """A named part of a job, metered as one or more windows (`EPOCH` and `SEGMENT` are numbered: `numbered`)."""

    RUN = "run"
    LOAD = "load"
    TRAIN = "train"
    EVAL_LOSS = "eval-loss"
    GENERATE = "generate"
    CHECKPOINT = "checkpoint"
    VALIDATE = "validate"
    TEST = "test"
    EPOCH = "epoch"
    SEGMENT = "segment"

    def numbered(self, number: int) -> str:
        """The window name of the `number`-th epoch or segment, e.g. 'epoch-2'."""
        return f"{self.value}-{number}"


class StopReason(StrEnum):
    """Why training ended (a failed or killed run has none: its status says)."""

    EPOCH_BUDGET = "epoch-budget"
    MAX_STEPS = "max-steps"
    EARLY_STOPPING = "early-stopping"
    CALLBACK = "stopped-by-callback"


class KvCache(StrEnum):
    """The key/value cache evaluation's `generate` ran with."""

    DYNAMIC = "dynamic"
    STATIC = "static"


class ComponentEnergy(BaseModel):
    """Energy of one device or domain over the whole run."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="e.g. 'gpu:0', 'cpu:package-0', 'ram'")
    energy_kwh: float
    source: Source


class PhaseFootprint(BaseModel):
    """Time and energy of one phase (train, eval-loss, generate, test, epoch-N)."""

    model_config = ConfigDict(frozen=True)

    name: str
    duration_s: float
    energy_kwh: float
    emissions_gco2eq: float | None = Field(
        default=None,
        description="operational emissions of the phase on the run's intensity series (time-resolved runs)",
    )


class AccountingInput(BaseModel):
    """One input of the carbon/cost accounting: its value and unit, where it came from, measured or estimated."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: float | str
    unit: str = ""
    source: str = ""
    year: str = ""
    origin: Source = "estimated"


class PlannedSegment(BaseModel):
    """One stretch of a carbon-aware plan, ISO 8601 times with offsets."""

    model_config = ConfigDict(frozen=True)

    start: str
    end: str


class PlanSummary(BaseModel):
    """A carbon-aware plan as recorded (`greentune.schedule.Plan.to_dict`): emissions now vs planned, × PUE."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    mode_name: str
    region: str
    requested_start: str
    deadline: str
    start: str
    end: str
    segments: list[PlannedSegment]
    pauses: int
    pauses_per_hour: float
    energy_kwh: float
    emissions_now_gco2eq: float
    emissions_plan_gco2eq: float
    savings_gco2eq: float
    savings_pct: float
    pue: float
    source: str
    kind: IntensityKind
    slot_s: int
    notes: list[str] = Field(default_factory=list)


class ExecutedSegment(BaseModel):
    """One stretch a carbon-aware run really ran: clock start/end (ISO 8601), optimizer steps, measured energy,
    and its emissions on the series (× PUE)."""

    model_config = ConfigDict(frozen=True)

    index: int
    start: str
    end: str
    steps: int
    duration_s: float
    energy_kwh: float
    emissions_gco2eq: float
    mean_intensity_gco2eq_per_kwh: float


class CarbonAwareSummary(BaseModel):
    """A carbon-aware run: the plan, the executed segments, and the run's realised emissions (the record's
    headline figure) against the same timeline started at the requested time (`counterfactual_gco2eq`)."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    clock: ClockKind
    seconds_per_step: float | None = None
    region: str
    source: str
    kind: IntensityKind
    expected_duration_s: float
    duration_method: str
    plan: PlanSummary
    segments: list[ExecutedSegment]
    steps: int
    energy_kwh: float
    realised_gco2eq: float
    counterfactual_gco2eq: float
    savings_pct: float
    notes: list[str] = Field(default_factory=list)


class PowerLimitProfile(BaseModel):
    """Time and GPU energy of the same training steps at one power limit."""

    model_config = ConfigDict(frozen=True)

    limit_w: int
    steps: int
    duration_s: float
    energy_j: float


class PowerLimitSummary(BaseModel):
    """What the power-limit optimiser profiled, chose and applied."""

    model_config = ConfigDict(frozen=True)

    objective: str
    original_limits_w: list[int]
    profiles: list[PowerLimitProfile] = Field(default_factory=list)
    chosen_w: int | None
    applied: bool
    note: str


class InferFigures(BaseModel):
    """One inference configuration of `greentune bench-infer` (kind `infer`) and what it measured."""

    model_config = ConfigDict(frozen=True)

    backend: str = Field(description="eager, int8, onnx or ct2")
    precision: str = Field(description="fp32, fp16, bf16, int8, int8_fp32, int8_fp16")
    batch_size: int
    num_beams: int
    device: str
    summaries: int
    j_per_summary: float
    wh_per_1000_summaries: float
    latency_p50_ms: float = Field(description="per generate call (one batch)")
    latency_p95_ms: float
    rouge_delta: dict[str, float] = Field(
        default_factory=dict, description="ROUGE points against the eager fp32 reference on the same inputs"
    )
    exact_match_share: float | None = Field(
        default=None, description="share of summaries identical to the eager fp32 reference's (None without one)"
    )


class ServingFootprint(BaseModel):
    """A serving session (kind serve): requests, tokens, energy inside batches (active) and between them (idle)."""

    model_config = ConfigDict(frozen=True)

    backend: str
    device: str
    replicas: int
    max_batch: int
    requests: int
    failed: int
    batches: int
    input_tokens: int
    output_tokens: int
    active_energy_kwh: float
    idle_energy_kwh: float
    active_duration_s: float
    idle_duration_s: float
    active_gco2eq: float
    idle_gco2eq: float
    active_cost_usd: float | None = None
    idle_cost_usd: float | None = None
    energy_j_per_request_mean: float | None = None
    energy_j_per_request_p50: float | None = None
    energy_j_per_request_p95: float | None = None
    wh_per_1000_requests: float | None = None
    gco2eq_per_1000_requests: float | None = None
    latency_ms_p50: float | None = None
    latency_ms_p95: float | None = None


class TrialStatus(StrEnum):
    """How a sweep trial ended."""

    FINISHED = "finished"
    PRUNED = "pruned"  # stopped early by ASHA
    EXPLOITED = "exploited"  # PBT replaced its weights with a better trial's checkpoint
    PAUSED = "paused"  # PBT paused it to share the machine; it resumes from its own checkpoint
    FAILED = "failed"
    STOPPED_BY_BUDGET = "stopped-by-budget"
    STOPPED = "stopped"  # by the user or when the sweep ended


class TrialReport(BaseModel):
    """What a trial reported to the sweep after one evaluation; energy is cumulative since the trial began."""

    model_config = ConfigDict(frozen=True)

    epoch: float
    energy_kwh: float
    rouge1: float | None = None
    eval_loss: float | None = None


class TrialInfo(BaseModel):
    """A fine-tuning run that is one trial (or one segment of a PBT trial) of a sweep."""

    model_config = ConfigDict(frozen=True)

    trial_id: str
    segment: int = Field(1, description="PBT: 2 and up for a trial resumed from a checkpoint")
    status: TrialStatus
    stopped_at_epoch: float | None = None
    config: dict[str, Any] = Field(default_factory=dict, description="the searched spec keys and their values")
    restored_from: str | None = Field(default=None, description="the checkpoint this segment started from")
    donor_trial_id: str | None = Field(
        default=None,
        description="PBT exploit: the trial whose checkpoint replaced this segment's weights (status exploited), "
        "or whose checkpoint this segment started from",
    )
    reports: list[TrialReport] = Field(default_factory=list)


class SweepTrial(BaseModel):
    """One child run as the sweep's parent record lists it."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    trial_id: str
    segment: int
    status: TrialStatus
    energy_kwh: float
    emissions_gco2eq: float
    cost_usd: float | None
    rouge1: float | None
    config: dict[str, Any] = Field(default_factory=dict)
    donor_trial_id: str | None = None  # see TrialInfo.donor_trial_id


class SweepBudget(BaseModel):
    """A sweep's budget and what it did."""

    model_config = ConfigDict(frozen=True)

    limit: float
    unit: Literal["kWh", "gCO2eq", "USD"]
    spent: float
    reached: bool
    trials_stopped: int = Field(description="running trials stopped when the measured total reached the limit")
    trials_not_launched: int = Field(description="trials not started because their projected cost passed the limit")


class SweepFootprint(BaseModel):
    """The whole search's footprint: the parent record's energy_kwh = trials_kwh + idle_kwh."""

    model_config = ConfigDict(frozen=True)

    algorithm: str
    scheduler: str
    trials: list[SweepTrial] = Field(default_factory=list)
    trials_kwh: float
    idle_kwh: float = Field(description="measured while no trial ran: Ray start-up, workers starting, gaps")
    idle_s: float
    wasted_kwh: float = Field(description="energy of trials thrown away: pruned, exploited, failed, stopped")
    wasted_share: float = Field(description="wasted_kwh / the sweep's total energy_kwh, 0-1")
    target_rouge1: float | None = None
    energy_to_target_kwh: float | None = Field(
        default=None, description="energy spent until a trial first reported ROUGE-1 >= target (None: never)"
    )
    best_run_id: str | None = None
    best_config: dict[str, Any] = Field(default_factory=dict)
    best_rouge1: float | None = None
    best_energy_kwh: float | None = Field(default=None, description="what the best configuration alone cost")
    best_emissions_gco2eq: float | None = None
    best_cost_usd: float | None = None
    budgets: list[SweepBudget] = Field(default_factory=list)


def energy_source_of(components: list[ComponentEnergy]) -> Source:
    """The record's energy source rule: 'measured' only when every component was measured."""
    if components and all(c.source == "measured" for c in components):
        return "measured"
    return "estimated"


class RunRecord(BaseModel):
    """Everything greentune knows about one job."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    run_name: str
    kind: RunKind = RunKind.TRAIN
    parent_run_id: str | None = Field(default=None, description="the sweep a trial belongs to")
    experiment: str
    status: RunStatus
    start_time: str = Field(description="ISO 8601, UTC")
    model_name: str
    dataset_name: str
    strategies: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)
    hardware: str = Field(description="e.g. 'cpu: AMD EPYC 7B13 x2' or 'gpu: NVIDIA H100 80GB HBM3 x1'")
    device_count: int = 1

    duration_s: float
    energy_kwh: float
    components: list[ComponentEnergy] = Field(default_factory=list)
    phases: list[PhaseFootprint] = Field(default_factory=list)

    location: str = Field(description="country code or 'provider:region' used for the accounting")
    intensity_gco2eq_per_kwh: float
    pue: float
    emissions_gco2eq: float = Field(description="operational emissions by `emissions_method`: the run's one figure")
    emissions_method: str = Field(
        default=ANNUAL_AVERAGE_METHOD,
        description="how emissions_gco2eq was computed: 'time-resolved: <source>' (the run's energy timeline on an "
        "intensity series) or 'annual average: <source, year>'",
    )
    intensity_kind: IntensityKind = Field(
        default="average", description="marginal when a marginal series (WattTime) gave the time-resolved figure"
    )
    annual_average_emissions_gco2eq: float | None = Field(
        default=None, description="the same energy at the site's annual average intensity, for comparison"
    )
    annual_average_intensity_gco2eq_per_kwh: float | None = None
    embodied_gco2eq: float | None = None
    cost_usd: float | None = None

    rouge: dict[str, float] = Field(default_factory=dict, description="validation ROUGE in points (0-100)")
    test_rouge: dict[str, float] = Field(default_factory=dict)
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    total_flos: float | None = None
    peak_ram_bytes: int | None = None
    peak_vram_bytes: int | None = None
    avg_cpu_util_pct: float | None = None
    avg_gpu_util_pct: float | None = None
    avg_power_w: float | None = None
    peak_power_w: float | None = None

    epochs_run: float | None = None
    epochs_budget: float | None = None
    early_stopping_saved_kwh: float | None = Field(
        default=None, description="estimated energy not spent thanks to early stopping"
    )
    stop_reason: StopReason | None = Field(default=None, description="why training ended; None for older records")
    rouge_evaluations: int | None = Field(
        default=None, description="generation + ROUGE passes over the validation split (strategies.rouge_every_epochs)"
    )
    eval_cache: KvCache | None = Field(default=None, description="the KV cache evaluation's generation used")
    artifact_dir: str | None = Field(default=None, description="local folder with meter log, predictions, spec")
    accounting_inputs: list[AccountingInput] = Field(
        default_factory=list, description="each input of the carbon/cost accounting with value, source and year"
    )
    eval_history: list[dict[str, float | None]] = Field(
        default_factory=list,
        description="one entry per evaluation: epoch, eval_loss, rouge1/2/L/Lsum in points; None for NaN (a diverged loss)",
    )
    data_report: dict[str, Any] = Field(
        default_factory=dict, description="token-length distribution and truncation rate per split and column"
    )
    notes: list[str] = Field(default_factory=list, description="warnings and caveats of this run, one line each")
    power_limit: PowerLimitSummary | None = Field(default=None, description="the GPU power-limit optimiser's run")
    requests: int | None = Field(
        default=None, description="summaries produced: requests served (serve) or inputs summarized (infer)"
    )
    storage_bytes: int | None = Field(
        default=None, description="bytes on disk of the run's checkpoints and final model at its end"
    )
    infer: InferFigures | None = Field(default=None, description="an inference benchmark configuration")
    serving: ServingFootprint | None = Field(default=None, description="a serving session's requests and energy")
    carbon_aware: CarbonAwareSummary | None = Field(
        default=None, description="a carbon-aware run: plan, executed segments, realised vs run-now emissions"
    )

    @property
    def is_time_resolved(self) -> bool:
        """Whether the headline emissions came from an intensity series over the run's own time."""
        return not self.emissions_method.startswith(ANNUAL_AVERAGE_METHOD)

    trial: TrialInfo | None = Field(default=None, description="a sweep's trial: its status, config and reports")
    sweep: SweepFootprint | None = Field(default=None, description="a sweep (kind sweep): its trials and footprint")

    host: str | None = Field(default=None, description="machine the job ran on (hostname)")
    pid: int | None = Field(default=None, description="process id of the job on that machine")

    @property
    def energy_source(self) -> Source:
        """'measured' only when every component was measured."""
        return energy_source_of(self.components)
