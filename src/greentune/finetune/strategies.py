"""Efficiency strategies: check that they can run here, apply them to the model, turn them into Trainer arguments.

Checks run before any weights are loaded, so that a strategy this machine
cannot run (fp16/bf16/tf32 without a GPU, DeepSpeed without its package or a
GPU) or a precision the model is known to overflow in fails in seconds with one
line. The fp16 risk comes from the model config's published dtype and the
table `data/fp16_unsafe_models.csv` (with sources).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from functools import cache
from typing import Any

from greentune.data import read_table
from greentune.errors import GreentuneError
from greentune.finetune.models import ModelIdentity
from greentune.finetune.spec import StrategiesConfig

AUTO_BATCH_START = 64
_OPTIMIZERS = {"adamw": "adamw_torch", "adamw-fused": "adamw_torch_fused", "adafactor": "adafactor"}


@dataclasses.dataclass(frozen=True)
class Fp16Risk:
    """One row of the fp16-unsafe table."""

    model_type: str
    pretrained_dtype: str
    reason: str
    source: str
    year: int


@cache
def fp16_unsafe_models() -> dict[str, Fp16Risk]:
    """The table of model families known to overflow in fp16, by model type."""
    return {
        row["model_type"]: Fp16Risk(
            row["model_type"], row["pretrained_dtype"], row["reason"], row["source"], int(row["year"])
        )
        for row in read_table("fp16_unsafe_models")
    }


def check_runnable(strategies: StrategiesConfig, has_cuda: bool) -> None:
    """Fail with one line when a strategy needs hardware or a package this machine lacks."""
    if strategies.precision in ("fp16", "bf16", "tf32") and not has_cuda:
        raise GreentuneError(
            f"strategies.precision {strategies.precision} needs a CUDA GPU and none is visible; "
            "use precision: fp32 on this machine"
        )
    if strategies.power_limit is not None and not has_cuda:
        raise GreentuneError(
            "strategies.power_limit needs an NVIDIA GPU and none is visible; remove it on this machine"
        )
    if strategies.token_budget is not None and strategies.batch_size == "auto":
        raise GreentuneError("strategies.token_budget and batch_size: auto exclude each other; choose one")
    if strategies.deepspeed.enabled:
        if importlib.util.find_spec("deepspeed") is None:
            raise GreentuneError(
                "strategies.deepspeed needs the deepspeed package (pip install deepspeed); or disable it"
            )
        if not has_cuda:
            raise GreentuneError(
                "strategies.deepspeed needs a CUDA GPU and none is visible; disable it on this machine"
            )


def check_pretrained_dtype(strategies: StrategiesConfig, identity: ModelIdentity) -> str | None:
    """Refuse (or return a warning for) fp16 on a model family pre-trained in bf16; None when safe."""
    if strategies.precision != "fp16":
        return None
    risk = fp16_unsafe_models().get(identity.model_type)
    if risk is not None:
        reason = f"{identity.model_type}: {risk.reason} ({risk.source}, {risk.year})"
    elif identity.pretrained_dtype == "bfloat16":
        reason = f"{identity.model_type}: its config says the weights were published in bfloat16"
    else:
        return None
    message = f"fp16 is risky for {reason}; use precision: bf16 or fp32"
    if strategies.fp16_unsafe == "refuse":
        raise GreentuneError(message + ", or set strategies.fp16_unsafe: warn to try anyway")
    return message


def apply_to_model(model: Any, strategies: StrategiesConfig) -> Any:
    """Set the attention kernels, freeze parameters and wrap with LoRA as the strategies say; returns the model."""
    if strategies.attention != "default":
        _set_attention(model, strategies.attention)
    _freeze(model, strategies.freeze)
    if strategies.lora.enabled:
        model = _with_lora(model, strategies)
    return model


def _set_attention(model: Any, attention: str) -> None:
    try:
        model.set_attn_implementation(attention)
    except (ValueError, ImportError) as error:
        raise GreentuneError(
            f"strategies.attention {attention} is not supported by this model ({str(error).splitlines()[0]}); "
            "use attention: default"
        ) from None


def _freeze(model: Any, freeze: str) -> None:
    import torch

    if freeze in ("encoder", "both"):
        for parameter in model.get_encoder().parameters():
            parameter.requires_grad = False
    if freeze in ("embeddings", "both"):
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding):
                for parameter in module.parameters():
                    parameter.requires_grad = False


def _with_lora(model: Any, strategies: StrategiesConfig) -> Any:
    import warnings

    from peft import LoraConfig, TaskType, get_peft_model

    lora = strategies.lora
    config = LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
    )
    try:
        with warnings.catch_warnings():
            # peft asks the model for `is_gradient_checkpointing`, which transformers 5 deprecates: nothing to act on
            warnings.filterwarnings(
                "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
            )
            return get_peft_model(model, config)
    except ValueError as error:
        raise GreentuneError(
            f"LoRA could not wrap this model ({str(error).splitlines()[0]}); set strategies.lora.target_modules"
        ) from None


def training_arguments(strategies: StrategiesConfig) -> dict[str, Any]:
    """Seq2SeqTrainingArguments keywords for the strategies."""
    from transformers import Seq2SeqTrainingArguments

    fields = {field.name for field in dataclasses.fields(Seq2SeqTrainingArguments)}
    auto = strategies.batch_size == "auto"
    arguments: dict[str, Any] = {
        "fp16": strategies.precision == "fp16",
        "bf16": strategies.precision == "bf16",
        "tf32": True if strategies.precision == "tf32" else None,
        "optim": _OPTIMIZERS[strategies.optimizer],
        "per_device_train_batch_size": AUTO_BATCH_START if auto else strategies.batch_size,
        "auto_find_batch_size": auto,
        "gradient_accumulation_steps": strategies.gradient_accumulation_steps,
        "torch_compile": strategies.torch_compile,
        "dataloader_num_workers": strategies.dataloader_workers,
    }
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    arguments[checkpointing] = strategies.gradient_checkpointing
    if strategies.group_by_length:
        # transformers 5 replaced group_by_length with train_sampling_strategy
        if "train_sampling_strategy" in fields:
            arguments["train_sampling_strategy"] = "group_by_length"
        else:
            arguments["group_by_length"] = True
    if strategies.deepspeed.enabled:
        arguments["deepspeed"] = deepspeed_config(strategies)
    return arguments


def deepspeed_config(strategies: StrategiesConfig) -> dict[str, Any]:
    """A DeepSpeed ZeRO config whose batch and precision settings follow the Trainer's ('auto')."""
    zero: dict[str, Any] = {"stage": strategies.deepspeed.stage}
    if strategies.deepspeed.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if strategies.deepspeed.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    return {
        "zero_optimization": zero,
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "fp16": {"enabled": "auto"},
        "bf16": {"enabled": "auto"},
    }


def recorded_strategies(strategies: StrategiesConfig, batch_size_used: int | None) -> dict[str, Any]:
    """The strategies as the ledger records them, with the batch size `auto` settled on."""
    recorded = strategies.model_dump(mode="json")
    recorded["batch_size_used"] = batch_size_used
    return recorded
