"""`RunRecord`: one fine-tuning, evaluation or serving job, as the ledger stores it.

The contract between the runner (writes), the ledger (stores in MLflow) and the
report (reads). Units live in field names; every energy figure says whether it
was measured or estimated.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["measured", "estimated"]


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
    emissions_gco2eq: float
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
    artifact_dir: str | None = Field(default=None, description="local folder with meter log, predictions, spec")
    accounting_inputs: list[dict[str, Any]] = Field(
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
    carbon_aware: dict[str, Any] | None = Field(
        default=None,
        description="a carbon-aware run: mode, clock, plan, executed segments (start, end, steps, energy_kwh, "
        "emissions_gco2eq), realised_gco2eq vs counterfactual_gco2eq (run now), savings_pct",
    )

    host: str | None = Field(default=None, description="machine the job ran on (hostname)")
    pid: int | None = Field(default=None, description="process id of the job on that machine")

    @property
    def energy_source(self) -> Source:
        """'measured' only when every component was measured."""
        if self.components and all(c.source == "measured" for c in self.components):
            return "measured"
        return "estimated"
