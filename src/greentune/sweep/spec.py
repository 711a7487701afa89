"""The sweep spec: a base experiment spec + a search space + search algorithm + scheduler + budget, one YAML file.

Validated before Ray or torch load: unknown keys are rejected, and every value
the space can produce (each choice and grid value, both ends of a range) is
applied to the base spec and validated, so that a typo in a key or an
impossible value fails in a second instead of inside a trial.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from greentune.errors import GreentuneError
from greentune.finetune.spec import (
    ExperimentSpec,
    apply_override,
    describe_validation_error,
    read_yaml_mapping,
    validate_spec,
)
from greentune.sweep.kinds import Metric, SchedulerKind, SearchAlgorithm


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Distribution(_Config):
    """Exactly one of: `choice` (values), `grid` (values, every one tried), `uniform` or `loguniform` ([low, high])."""

    choice: list[Any] | None = None
    grid: list[Any] | None = None
    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Distribution:
        given = [name for name in ("choice", "grid", "uniform", "loguniform") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of choice, grid, uniform, loguniform")
        values = self.choice if self.choice is not None else self.grid
        if values is not None and not values:
            raise ValueError(f"{given[0]} needs at least one value")
        bounds = self.uniform or self.loguniform
        if bounds is not None:
            if not bounds[0] < bounds[1]:
                raise ValueError("a range needs low < high")
            if self.loguniform is not None and bounds[0] <= 0:
                raise ValueError("loguniform needs low > 0")
        return self

    def edge_values(self) -> list[Any]:
        """Values to validate against the base spec: every listed value, or both ends of the range."""
        return list(self.choice or self.grid or self.uniform or self.loguniform or [])


class SearchConfig(_Config):
    """Search algorithm and how many trials."""

    algorithm: SearchAlgorithm = SearchAlgorithm.RANDOM
    num_samples: int = Field(4, ge=1, description="trials (grid: repeats of the whole grid)")
    max_concurrent: int = Field(1, ge=1, description="trials running at once")
    seed: int = 0


class SchedulerConfig(_Config):
    """ASHA (grace period, reduction factor) or PBT (perturbation interval, mutations), on a per-epoch metric."""

    kind: SchedulerKind = SchedulerKind.NONE
    metric: Metric = Metric.ROUGE1
    grace_period: int = Field(1, ge=1, description="ASHA: epochs every trial runs before it can be pruned")
    reduction_factor: float = Field(2.0, gt=1, description="ASHA: 1/reduction_factor of trials go on at each rung")
    perturbation_interval: int = Field(1, ge=1, description="PBT: epochs between exploit/explore steps")
    quantile_fraction: float = Field(0.5, gt=0, le=0.5, description="PBT: bottom share that copies the top share")
    mutations: list[str] | None = Field(
        None, description="PBT: space keys resampled on explore (None: every non-grid key)"
    )
    synch: bool = Field(
        True,
        description="PBT: exploit once every trial has reached the perturbation epoch (false: Ray's asynchronous PBT)",
    )


class ResourcesConfig(_Config):
    """What one trial reserves on the Ray cluster."""

    cpus: float = Field(1.0, gt=0)
    gpus: float = Field(0.0, ge=0)


class BudgetConfig(_Config):
    """Limits on the whole sweep; None: no limit."""

    kwh: float | None = Field(None, gt=0)
    gco2: float | None = Field(None, gt=0)
    usd: float | None = Field(None, gt=0)


class SweepSpec(_Config):
    """One sweep: trials are `base` with the `space` keys (dotted spec paths) set per trial."""

    name: str = "sweep"
    base: dict[str, Any] = Field(default_factory=dict, description="the experiment spec every trial starts from")
    space: dict[str, Distribution]
    search: SearchConfig = Field(default_factory=SearchConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    target_rouge1: float | None = Field(None, gt=0, le=100, description="for energy-to-target, ROUGE-1 points")
    address: str | None = Field(None, description="Ray cluster address; None: a local Ray on this machine")

    @model_validator(mode="after")
    def _space_fits_algorithm(self) -> SweepSpec:
        if not self.space:
            raise ValueError("space needs at least one key")
        algorithm = self.search.algorithm
        for key, distribution in self.space.items():
            if algorithm is SearchAlgorithm.OPTUNA and distribution.grid is not None:
                raise ValueError(f"space.{key}: grid cannot be used with optuna; use choice")
            if algorithm is SearchAlgorithm.GRID and (distribution.uniform or distribution.loguniform):
                raise ValueError(f"space.{key}: a grid search needs choice or grid values, not a range")
        for key in self.scheduler.mutations or []:
            if key not in self.space:
                raise ValueError(f"scheduler.mutations: '{key}' is not a key of space")
        if self.scheduler.kind is SchedulerKind.PBT and self.search.max_concurrent < self.trial_count():
            raise ValueError(
                f"scheduler pbt: search.max_concurrent ({self.search.max_concurrent}) must be at least the number "
                f"of trials ({self.trial_count()}): PBT's population is the trials that exist at once "
                "(resources.cpus/gpus bound how many run at once; PBT takes turns between them)"
            )
        return self

    def trial_count(self) -> int:
        """How many trials the sweep runs: num_samples, times the size of every grid (a grid search: every key's)."""
        if self.search.algorithm is SearchAlgorithm.GRID:
            sizes = [len(d.grid or d.choice or []) for d in self.space.values()]
            return math.prod(sizes) * self.search.num_samples
        grids = [len(d.grid) for d in self.space.values() if d.grid is not None]
        return math.prod(grids) * self.search.num_samples

    def base_spec(self) -> ExperimentSpec:
        """The base experiment spec, validated."""
        return validate_spec(self.base, origin="base")

    def trial_spec(self, config: dict[str, Any]) -> ExperimentSpec:
        """The base spec with a trial's `config` (dotted key → value) applied."""
        raw = self.base
        for key, value in config.items():
            raw = _set(raw, key, value)
        return validate_spec(raw, origin=f"trial {config}")


def _set(raw: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """`apply_override` with a typed value (not parsed from text)."""
    updated = apply_override(raw, f"{key}=")
    node = updated
    for part in key.split(".")[:-1]:
        node = node[part]
    node[key.split(".")[-1]] = value
    return updated


def load_sweep(path: Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read a sweep YAML (its `base` a mapping or the path of a spec YAML, relative to the sweep file); validate it.

    `overrides` replace top-level sections' keys, e.g. {"search.num_samples": 8} from command-line options.
    """
    if not path.exists():
        raise GreentuneError(f"sweep file {path} not found; give the path of a sweep YAML (see examples/)")
    raw = read_yaml_mapping(path, "name, base, space, search, scheduler, budget")
    base = raw.get("base")
    if isinstance(base, str):
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        if not base_path.exists():
            raise GreentuneError(f"{path}: base spec {base_path} not found")
        raw["base"] = read_yaml_mapping(base_path, "model, data, strategies, ...")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            raw = _set(raw, dotted, value)
    return validate_sweep(raw, origin=str(path))


def validate_sweep(raw: dict[str, Any], origin: str = "sweep") -> SweepSpec:
    """Validate a sweep mapping and every value its space can produce; one GreentuneError line on failure."""
    try:
        sweep = SweepSpec.model_validate(raw)
    except ValidationError as error:
        raise GreentuneError(f"{origin}: {describe_validation_error(error)}") from None
    sweep.base_spec()
    for key, distribution in sweep.space.items():
        for value in distribution.edge_values():
            try:
                sweep.trial_spec({key: value})
            except GreentuneError as error:
                raise GreentuneError(f"{origin}: space.{key} value {value!r} is not valid: {error}") from None
    return sweep
