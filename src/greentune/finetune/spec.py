"""The experiment spec: one YAML file composed of small validated configs.

model × data × strategies × train × generate × site × ledger, each a pydantic
model that rejects unknown keys, so that a typo fails in well under a second —
before torch or transformers are imported. `load_spec` reads the YAML, applies
`--set key=value` overrides (dotted paths) and turns a validation error into
one `GreentuneError` line.
"""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from greentune.errors import GreentuneError
from greentune.meter.scope import Scope

if typing.TYPE_CHECKING:
    from greentune.carbon.intensity import Site

BUILTIN_MODEL = "minilm-bert2bert"
BUILTIN_DATASET = "aclsum"
Aspect = Literal["challenge", "approach", "outcome"]
Section = Literal["abstract", "introduction", "conclusion"]
ASPECTS: tuple[Aspect, ...] = ("challenge", "approach", "outcome")
DEFAULT_SECTIONS: tuple[Section, ...] = ("abstract",)
MAX_SPEC_BYTES = 1_000_000  # a spec is a few kB; this bounds what a hostile file can make us read
MAX_OVERRIDE_KEYS = 100
MAX_OVERRIDES_JSON_CHARS = 20_000


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML's true/false is a bool, not 1/0: refused where the field takes no bool."""
        field_name = info.field_name
        if (
            isinstance(value, bool)
            and field_name is not None
            and not _takes_bool(cls.model_fields[field_name].annotation)
        ):
            raise ValueError("expected a number or a word, not true/false")
        return value


def missing_model_folder(name: str) -> str | None:
    """Why ``name`` cannot be a model: it is no folder and cannot be a Hub id (``./x``, ``/x``, ``a/b/c``); else None.

    Such a name would otherwise reach the Hub client, which refuses it as a badly formed repo id once torch
    and transformers have loaded. The Hub's own rule decides (`huggingface_hub`'s `validate_repo_id`).
    """
    if name == BUILTIN_MODEL or Path(name).expanduser().is_dir():
        return None
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return (
            f"no folder '{name}', and no Hub name is written so; "
            f"give a model folder that exists, a Hub name (org/name) or {BUILTIN_MODEL}"
        )
    return None


def _takes_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_takes_bool(arg) for arg in typing.get_args(annotation))
    return False


class ModelConfig(_Config):
    """What is fine-tuned: a hub name, a local folder, or the built-in MiniLM BERT2BERT."""

    name: str = BUILTIN_MODEL
    random_init: bool = Field(False, description="build the architecture from its config, without pretrained weights")
    config_overrides: dict[str, Any] = Field(default_factory=dict, description="applied to the model config")
    tokenizer: str | None = Field(None, description="tokenizer name or path when it differs from the model's")

    @field_validator("name", "tokenizer")
    @classmethod
    def _folder_exists(cls, value: str | None) -> str | None:
        """A name that cannot be a Hub id is a folder that must be there (see `missing_model_folder`)."""
        problem = None if value is None else missing_model_folder(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("config_overrides")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Config overrides are a few numbers and words: at most 100 keys and 20 000 characters as JSON."""
        if len(value) > MAX_OVERRIDE_KEYS:
            raise ValueError(f"at most {MAX_OVERRIDE_KEYS} keys, got {len(value)}")
        try:
            size = len(json.dumps(value))
        except (TypeError, ValueError):
            raise ValueError("values must be numbers, words, true/false, lists or mappings of them") from None
        if size > MAX_OVERRIDES_JSON_CHARS:
            raise ValueError(f"at most {MAX_OVERRIDES_JSON_CHARS} characters as JSON, got {size}")
        return value


class DataConfig(_Config):
    """Where the (source, target) pairs come from and how they are cut."""

    name: str = Field(BUILTIN_DATASET, description="'aclsum', 'synthetic', an HF dataset name, or a .jsonl/.csv path")
    config: str | None = Field(None, description="HF dataset configuration, e.g. '3.0.0'")
    revision: str | None = Field(
        None, description="HF dataset revision, e.g. 'refs/convert/parquet' for a data set published as a script"
    )
    source_column: str = "source"
    target_column: str = "target"
    train_split: str = "train"
    validation_split: str | None = Field("validation", description="None: hold out 10% of train (and 10% for test)")
    test_split: str | None = "test"
    aspects: list[Aspect] = Field(default_factory=lambda: list(ASPECTS), description="ACLSum aspects, one example each")
    sections: list[Section] = Field(
        default_factory=lambda: list(DEFAULT_SECTIONS), description="ACLSum sections the source is built from"
    )
    source_prefix: str = Field("", description="prepended to every source, e.g. 'summarize: ' for T5")
    max_source_tokens: int = Field(128, gt=0)
    max_target_tokens: int = Field(64, gt=0)
    max_train_samples: int | None = Field(None, gt=0)
    max_eval_samples: int | None = Field(None, gt=0)
    max_test_samples: int | None = Field(None, gt=0)
    synthetic_samples: int = Field(2000, gt=0, description="train size of the 'synthetic' data set")
    synthetic_source_mean_tokens: float = Field(147.0, gt=0)
    synthetic_target_mean_tokens: float = Field(26.0, gt=0)


class EarlyStoppingConfig(_Config):
    """Stop when the validation metric has not improved by `threshold` for `patience` evaluations.

    A ROUGE metric needs generation at every evaluation; `eval_loss` (lower is better) is cheap and
    works between ROUGE checks (`strategies.rouge_every_epochs`).
    """

    enabled: bool = False
    metric: Literal["rouge1", "rouge2", "rougeL", "rougeLsum", "eval_loss"] = "rouge1"
    patience: int = Field(1, ge=1, description="evaluations without improvement (epochs with eval_strategy epoch)")
    threshold: float = Field(0.0, ge=0, description="minimum improvement, in ROUGE points or in loss")

    @property
    def greater_is_better(self) -> bool:
        """ROUGE improves upwards, the loss downwards."""
        return self.metric != "eval_loss"


class LoraConfig(_Config):
    """Low-rank adapters (peft) instead of full fine-tuning."""

    enabled: bool = False
    r: int = Field(8, gt=0)
    alpha: int = Field(16, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = Field(None, description="None: peft's default for the architecture")


class DeepSpeedConfig(_Config):
    """DeepSpeed ZeRO; needs the deepspeed package and a GPU."""

    enabled: bool = False
    stage: Literal[0, 1, 2, 3] = 2
    offload_optimizer: bool = False
    offload_params: bool = False


class PowerProfileConfig(_Config):
    """How `power_limit: auto` profiles limits (as Zeus's GlobalPowerLimitOptimizer) and what it minimises."""

    objective: Literal["energy", "time", "energy-within-slowdown"] = "energy-within-slowdown"
    max_slowdown_pct: float = Field(10.0, ge=0, description="for energy-within-slowdown")
    warmup_steps: int = Field(10, ge=1, description="steps at the current limit before profiling")
    profile_steps: int = Field(20, ge=1, description="steps measured at each candidate limit")
    step_w: int = Field(50, gt=0, description="watts between candidate limits, from the highest down")


class StrategiesConfig(_Config):
    """The efficiency strategies, each a switch recorded with the run."""

    precision: Literal["fp32", "tf32", "fp16", "bf16"] = "fp32"
    freeze: Literal["none", "embeddings", "encoder", "both"] = "none"
    lora: LoraConfig = Field(default_factory=LoraConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    group_by_length: bool = False
    optimizer: Literal["adamw", "adamw-fused", "adafactor"] = "adamw"
    batch_size: int | Literal["auto"] = 8
    gradient_accumulation_steps: int = Field(1, ge=1)
    gradient_checkpointing: bool = False
    torch_compile: bool = False
    deepspeed: DeepSpeedConfig = Field(default_factory=DeepSpeedConfig)
    fp16_unsafe: Literal["warn", "refuse"] = Field(
        "refuse", description="what to do when fp16 is asked for a model family known to overflow in fp16"
    )
    recipe: Literal["none", "frugal"] = Field(
        "none", description="frugal: greentune's recommended switches for every key not set explicitly"
    )
    token_budget: int | None = Field(
        None, gt=0, description="training batches filled to this many padded tokens instead of batch_size"
    )
    attention: Literal["default", "sdpa", "eager"] = Field("default", description="attention kernels")
    dataloader_workers: int = Field(0, ge=0, description="DataLoader worker processes for training")
    power_limit: int | Literal["auto"] | None = Field(
        None, description="GPU power limit in W, or 'auto': profile limits on the first steps and pick one"
    )
    power_profile: PowerProfileConfig = Field(default_factory=lambda: PowerProfileConfig())
    rouge_every_epochs: int | None = Field(
        None,
        ge=1,
        description="generation + ROUGE only every k-th epoch and at the end (eval loss still every epoch); "
        "None: at every evaluation",
    )
    eval_batch_size: int | None = Field(
        None, gt=0, description="summaries per generate call in evaluation; None: train.eval_batch_size"
    )
    eval_sort_by_length: bool = Field(
        False, description="evaluation generates in batches sorted by source length (longest first), order restored"
    )
    eval_static_cache: bool = Field(
        False, description="a static KV cache for evaluation's generate where the model supports one"
    )

    @model_validator(mode="after")
    def _batch_size_positive(self) -> StrategiesConfig:
        if isinstance(self.batch_size, int) and self.batch_size < 1:
            raise ValueError("batch_size must be a positive integer or 'auto'")
        return self


class TrainConfig(_Config):
    """Optimisation and evaluation schedule."""

    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, gt=0, description="overrides epochs when set")
    learning_rate: float = Field(2e-4, gt=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    seed: int = 42
    eval_strategy: Literal["epoch", "steps", "no"] = "epoch"
    eval_steps: int | None = Field(None, gt=0)
    eval_batch_size: int = Field(32, gt=0)
    save_checkpoints: bool = Field(True, description="keep the last Trainer checkpoint (needed for --resume)")
    run_test: bool = Field(False, description="also generate and score the test split after training")
    threads: int | None = Field(None, gt=0, description="torch CPU threads; None: torch's default")

    @field_validator("eval_strategy", mode="before")
    @classmethod
    def _yaml_no(cls, value: Any) -> Any:
        """YAML reads a bare `no` as false."""
        return "no" if value is False else value

    @model_validator(mode="after")
    def _steps_need_eval_steps(self) -> TrainConfig:
        if self.eval_strategy == "steps" and self.eval_steps is None:
            raise ValueError("eval_strategy 'steps' needs train.eval_steps")
        return self


class GenerateConfig(_Config):
    """Decoding for the ROUGE evaluation."""

    num_beams: int = Field(1, ge=1)
    min_new_tokens: int = Field(0, ge=0)
    max_new_tokens: int = Field(64, gt=0)
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = Field(0, ge=0)


class SiteConfig(_Config):
    """Where the run happens, for the carbon and cost accounting."""

    location: str | None = Field(None, description="country code or 'provider:region'; None: detect or default")
    pue: float | None = Field(None, ge=1.0)
    sku: str | None = Field(None, description="cloud instance type, for the cost in $")
    prices: str | None = Field(None, description="YAML file of extra SKU price rows (see greentune.carbon.prices)")

    def resolve(self) -> Site:
        """The accounting site; an unknown location or SKU is a `GreentuneError` (callers check it before any
        slow work)."""
        from greentune.carbon import resolve_site

        return resolve_site(self.location, pue=self.pue, sku=self.sku, prices=self.prices)


class MeterConfig(_Config):
    """How the run is measured (see greentune.meter)."""

    interval_ms: int = Field(100, gt=0, description="sampling period of the power/utilisation timeline")
    scope: Scope = Field(
        Scope.MACHINE, description="whose CPU/RAM use is charged: the whole machine, or this run's process tree"
    )


class LedgerConfig(_Config):
    """Where runs are recorded."""

    tracking_uri: str | None = Field(None, description="None: sqlite:///greentune-runs/mlflow.db")
    experiment: str = Field("greentune", min_length=1, max_length=200)
    run_name: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("experiment", "run_name")
    @classmethod
    def _printable_name(cls, value: str | None) -> str | None:
        """Names show in tables, reports and model cards: no control characters (newlines, tabs)."""
        if value is not None and any(not character.isprintable() for character in value):
            raise ValueError("must be printable text on one line (no newline, tab or control character)")
        return value


class ExperimentSpec(_Config):
    """One fine-tuning experiment."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    strategies: StrategiesConfig = Field(default_factory=StrategiesConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    site: SiteConfig = Field(default_factory=SiteConfig)
    meter: MeterConfig = Field(default_factory=MeterConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)

    @model_validator(mode="after")
    def _early_stopping_needs_eval(self) -> ExperimentSpec:
        if self.strategies.early_stopping.enabled and self.train.eval_strategy == "no":
            raise ValueError("strategies.early_stopping needs train.eval_strategy 'epoch' or 'steps'")
        return self

    @model_validator(mode="after")
    def _rouge_schedule_fits(self) -> ExperimentSpec:
        check_rouge_schedule(self.strategies, self.train.eval_strategy)
        return self

    def run_name(self) -> str:
        """The ledger run name: the one given, or model + switched-on strategies."""
        if self.ledger.run_name:
            return self.ledger.run_name
        return f"{Path(self.model.name).name}-{strategy_label(self.strategies)}"


def check_rouge_schedule(strategies: StrategiesConfig, eval_strategy: str) -> None:
    """`rouge_every_epochs` counts epochs and leaves evaluations without ROUGE: refuse what cannot follow it."""
    if strategies.rouge_every_epochs is None:
        return
    if eval_strategy != "epoch":
        raise ValueError("strategies.rouge_every_epochs needs train.eval_strategy 'epoch'")
    early = strategies.early_stopping
    if early.enabled and early.metric != "eval_loss":
        raise ValueError(
            f"strategies.early_stopping on {early.metric} needs ROUGE at every evaluation; "
            "use early_stopping.metric eval_loss with rouge_every_epochs, or drop rouge_every_epochs"
        )


def strategy_label(strategies: StrategiesConfig) -> str:
    """A short name for the strategies that differ from the defaults, e.g. 'freeze-embeddings+early-stop'."""
    parts: list[str] = ["frugal"] if strategies.recipe == "frugal" else []
    if strategies.precision != "fp32":
        parts.append(strategies.precision)
    if strategies.freeze != "none":
        parts.append(f"freeze-{strategies.freeze}")
    if strategies.lora.enabled:
        parts.append(f"lora-r{strategies.lora.r}")
    if strategies.early_stopping.enabled:
        parts.append("early-stop-loss" if strategies.early_stopping.metric == "eval_loss" else "early-stop")
    if strategies.group_by_length:
        parts.append("group-by-length")
    if strategies.optimizer != "adamw":
        parts.append(strategies.optimizer)
    if strategies.batch_size == "auto":
        parts.append("auto-batch")
    if strategies.gradient_accumulation_steps > 1:
        parts.append(f"accum{strategies.gradient_accumulation_steps}")
    if strategies.gradient_checkpointing:
        parts.append("grad-ckpt")
    if strategies.torch_compile:
        parts.append("compile")
    if strategies.deepspeed.enabled:
        parts.append(f"zero{strategies.deepspeed.stage}")
    if strategies.token_budget is not None:
        parts.append(f"tokens{strategies.token_budget}")
    if strategies.attention != "default":
        parts.append(strategies.attention)
    if strategies.power_limit is not None:
        parts.append(f"power-{strategies.power_limit}")
    if strategies.rouge_every_epochs is not None:
        parts.append(f"rouge-every{strategies.rouge_every_epochs}")
    if strategies.eval_batch_size is not None:
        parts.append(f"eval-batch{strategies.eval_batch_size}")
    if strategies.eval_sort_by_length:
        parts.append("eval-sorted")
    if strategies.eval_static_cache:
        parts.append("static-cache")
    return "+".join(parts) or "baseline"


def load_spec(path: Path | None, overrides: list[str] | None = None) -> ExperimentSpec:
    """Read a YAML spec (None: all defaults), apply `key=value` overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise GreentuneError(f"spec file {path} not found; give the path of a YAML spec")
        raw = read_yaml_mapping(path, "model, data, strategies, ...")
    for override in overrides or []:
        raw = apply_override(raw, override)
    return validate_spec(raw, origin=str(path) if path else "spec")


def read_yaml_mapping(path: Path, sections: str) -> dict[str, Any]:
    """The mapping a spec or sweep YAML file holds: at most MAX_SPEC_BYTES, no aliases.

    Any problem (a folder, unreadable, not UTF-8 YAML, empty, not a mapping of `sections`) is one GreentuneError
    line. An empty file is refused rather than read as every default (a run of minutes or hours nobody asked
    for): ``{}`` says that on purpose.
    """
    if path.is_dir():
        raise GreentuneError(f"{path} is a folder; give the path of a YAML file")
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise GreentuneError(f"{path} is {size} bytes; a spec may be at most {MAX_SPEC_BYTES} bytes")
        raw = _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GreentuneError(f"cannot read {path}: {error.strerror}") from None
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise GreentuneError(f"{path} is not valid YAML ({str(error).splitlines()[0]}); fix the file") from None
    if raw is None:
        raise GreentuneError(f"{path} is empty; write the sections to set ({sections}), or {{}} for every default")
    if not isinstance(raw, dict):
        raise GreentuneError(f"{path} must hold a mapping of sections ({sections})")
    return raw


def validate_spec(raw: dict[str, Any], origin: str = "spec") -> ExperimentSpec:
    """Validate a spec mapping; the first problem becomes one GreentuneError line."""
    try:
        return ExperimentSpec.model_validate(raw)
    except ValidationError as error:
        raise GreentuneError(f"{origin}: {describe_validation_error(error)}") from None


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first invalid key and what is expected there."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "spec"
    count = error.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    if first["type"] == "extra_forbidden":
        return f"unknown key '{where}'; check its spelling against the spec sections{more}"
    return f"{where}: {first['msg']}{more}"


def apply_override(raw: dict[str, Any], override: str) -> dict[str, Any]:
    """Return a copy of `raw` with `dotted.key=value` set; the value is parsed as YAML, or kept as text when it is not YAML."""
    key, sep, text = override.partition("=")
    if not sep or not key.strip():
        raise GreentuneError(f"--set '{override}' must look like key=value, e.g. strategies.precision=bf16")
    try:
        value = _load_yaml(text) if text.strip() else None
    except yaml.YAMLError:  # e.g. '[' or '@org/model': validation then says what the key expects
        value = text
    parts = key.strip().split(".")
    if not all(parts):
        raise GreentuneError(f"--set {key}: a dotted key has an empty part; e.g. strategies.precision=bf16")
    updated = _deep_copy(raw)
    node = updated
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise GreentuneError(f"--set {key}: '{part}' is a value, not a section")
        node = child
    node[parts[-1]] = value
    return updated


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: `*name` can multiply a small file into gigabytes (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a spec; write the value out", event.start_mark
            )
        return super().compose_node(parent, index)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass


def _deep_copy(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: _deep_copy(value) if isinstance(value, dict) else value for key, value in raw.items()}


def flatten(spec: ExperimentSpec) -> dict[str, str]:
    """The spec as dotted keys → strings, for MLflow params."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(f"{prefix}.{key}" if prefix else key, child)
        else:
            flat[prefix] = str(value)

    walk("", spec.model_dump(mode="json"))
    return flat
