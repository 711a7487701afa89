"""`strategies.recipe: frugal`: greentune's recommended switches, each also a switch of its own.

The recipe fills in every strategy the user did not set explicitly (pydantic's
`model_fields_set`), from what this machine has: bf16 where the GPU supports
it; token-budget batching; fused AdamW; SDPA attention; torch.compile on GPU;
DataLoader workers on GPU so that the GPU never waits for batches; evaluation
that generates in large length-sorted batches with a static KV cache where the
model has one; ROUGE every `ROUGE_EVERY_EPOCHS` epochs (and at the end) with
early stopping on the eval loss, which is computed every epoch, in between.
What it chose is recorded with the run (the resolved strategies) and each
choice it could not make here is a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from greentune.finetune.spec import EarlyStoppingConfig, StrategiesConfig

# Padded tokens per training batch: sized so that a BART-large-shaped model's activations fit an
# 80 GB GPU in bf16, and a small model's step on a CPU stays near the default batch of 8 × 128 + 64 tokens.
TOKEN_BUDGET_GPU = 65536
TOKEN_BUDGET_CPU = 2048
DATALOADER_WORKERS_GPU = 4
# Generation is memory-light next to training: 64 summaries per call keep a GPU busy without risking
# a 16 GB card at BART-large size; sorted by length, a batch pads little.
EVAL_BATCH_SIZE = 64
ROUGE_EVERY_EPOCHS = 2
LOSS_PATIENCE_EPOCHS = 2


@dataclass(frozen=True)
class Hardware:
    """What the recipe needs to know of the machine."""

    has_cuda: bool
    has_bf16: bool


@dataclass(frozen=True)
class ResolvedStrategies:
    """The strategies to run with, and one note per recipe choice that depends on the hardware."""

    strategies: StrategiesConfig
    notes: tuple[str, ...]


def resolve_recipe(
    strategies: StrategiesConfig, hardware: Hardware, eval_strategy: str = "epoch"
) -> ResolvedStrategies:
    """The strategies with the recipe's switches filled in where the user left them unset.

    `eval_strategy` is the spec's `train.eval_strategy`: ROUGE every k epochs needs evaluations per epoch.
    """
    if strategies.recipe != "frugal":
        return ResolvedStrategies(strategies, ())
    explicit = strategies.model_fields_set
    wanted: dict[str, object] = {
        "token_budget": TOKEN_BUDGET_GPU if hardware.has_cuda else TOKEN_BUDGET_CPU,
        "optimizer": "adamw-fused",
        "attention": "sdpa",
        "eval_batch_size": EVAL_BATCH_SIZE,
        "eval_sort_by_length": True,
        "eval_static_cache": True,
    }
    notes: list[str] = []
    rouge_on_every_evaluation = (
        "early_stopping" in explicit
        and strategies.early_stopping.enabled
        and strategies.early_stopping.metric != "eval_loss"
    )
    if eval_strategy != "epoch":
        notes.append(
            f"recipe frugal: eval_strategy {eval_strategy}, so no ROUGE schedule or early stopping on the loss "
            "(both need an evaluation every epoch)"
        )
    elif rouge_on_every_evaluation:
        notes.append(
            f"recipe frugal: early stopping on {strategies.early_stopping.metric} needs ROUGE at every evaluation, "
            "so rouge_every_epochs stays unset"
        )
    else:
        wanted["rouge_every_epochs"] = ROUGE_EVERY_EPOCHS
        wanted["early_stopping"] = EarlyStoppingConfig(enabled=True, metric="eval_loss", patience=LOSS_PATIENCE_EPOCHS)
    if hardware.has_cuda:
        wanted["torch_compile"] = True
        wanted["dataloader_workers"] = DATALOADER_WORKERS_GPU
        if hardware.has_bf16:
            wanted["precision"] = "bf16"
        else:
            notes.append("recipe frugal: this GPU has no bf16, so training stays in fp32")
    else:
        notes.append("recipe frugal: no GPU, so fp32 without torch.compile or DataLoader workers")
    if "batch_size" in explicit and "token_budget" not in explicit:
        notes.append(
            f"recipe frugal: training batches filled to {wanted['token_budget']} tokens instead of batch_size "
            f"{strategies.batch_size} (set strategies.token_budget: null to keep the batch size)"
        )
    chosen = {key: value for key, value in wanted.items() if key not in explicit}
    resolved = strategies.model_copy(update=chosen)
    if chosen:
        settings = ", ".join(f"{key}={_shown(value)}" for key, value in chosen.items())
        notes.append(f"recipe frugal set {settings}")
    return ResolvedStrategies(resolved, tuple(notes))


def _shown(value: object) -> object:
    """A chosen value as the note shows it: early stopping as its metric and patience."""
    if isinstance(value, EarlyStoppingConfig):
        return f"{value.metric}/patience {value.patience}"
    return value
