"""`greentune estimate --memory`: will the model train at this batch on this device? (see greentune.carbon.memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from greentune.errors import GreentuneError

if TYPE_CHECKING:
    from greentune.carbon.memory import MemoryRequest, ModelShape


NO_CONFIG_NOTE = "no model config (only --params): activations are not counted; give --model for them"


def model_shape(model: str | None, params: float | None) -> ModelShape:
    """The shape of a built-in, Hub or local model (parameters counted on the meta device, unless --params);
    a bare parameter count gives a shape without layers (no activations)."""
    from greentune.carbon.memory import ModelShape, shape_from_config
    from greentune.carbon.tables import require_positive
    from greentune.finetune.spec import missing_model_folder

    count = None if params is None else int(require_positive("parameters", params, ""))
    if model is None:
        if count is None:
            raise GreentuneError("--memory needs --model NAME (built-in, Hub or folder) or --params N")
        return ModelShape(parameters=count, hidden=1, heads=1, encoder_layers=0, decoder_layers=0, vocab=0)
    problem = missing_model_folder(model)
    if problem is not None:
        raise GreentuneError(problem)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    from greentune.finetune.hub import require_hub_for
    from greentune.finetune.models import BUILTIN_MODEL, builtin_model_dir

    try:
        if model == BUILTIN_MODEL:
            folder = str(builtin_model_dir())
            encoder = transformers.BertConfig.from_pretrained(folder)
            decoder = transformers.BertConfig.from_pretrained(folder, is_decoder=True, add_cross_attention=True)
            config: Any = transformers.EncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
            with torch.device("meta"):
                built = transformers.EncoderDecoderModel(config=config)
        else:
            require_hub_for(model)
            config = transformers.AutoConfig.from_pretrained(model)
            with torch.device("meta"):
                built = transformers.AutoModelForSeq2SeqLM.from_config(config)
    except (OSError, ValueError) as error:
        raise GreentuneError(f"could not load the config of '{model}' ({str(error).splitlines()[0]})") from None
    counted = sum(p.numel() for p in built.parameters())
    return shape_from_config(config, count if count is not None else counted)


def memory_result(request: MemoryRequest, device: Any, notes: list[str]) -> dict[str, Any]:
    """The JSON object of `estimate --memory`: bytes by component, fit, largest batch."""
    from greentune.carbon.memory import BYTES_PER_GB, estimate_memory, largest_batch

    if device.memory_gb is None:
        raise GreentuneError(f"{device.name} has no published memory size; pick a GPU or TPU")
    device_bytes = device.memory_gb * BYTES_PER_GB
    estimate = estimate_memory(request)
    has_layers = request.shape.encoder_layers + request.shape.decoder_layers > 0
    components = {
        "weights": estimate.weights_bytes,
        "gradients": estimate.gradients_bytes,
        "optimizer_states": estimate.optimizer_bytes,
        "activations": estimate.activations_bytes,
    }
    return {
        "hardware": device.name,
        "device_memory_bytes": device_bytes,
        "parameters": request.shape.parameters,
        "batch_size": request.batch_size,
        "components_bytes": components,
        "total_bytes": estimate.total_bytes,
        "fits": estimate.total_bytes <= device_bytes,
        # without layers the activations, the only term that grows with the batch, are unknown
        "largest_batch": largest_batch(request, device_bytes) if has_layers else None,
        "notes": [*notes, "framework overhead (CUDA context, fragmentation) is not counted: keep a margin"],
    }


def print_memory(result: dict[str, Any], console: Console) -> None:
    """The components as a table, then the verdict."""
    table = Table(title=f"Training memory per {result['hardware']} (estimated)")
    table.add_column("component")
    table.add_column("GB", justify="right")
    for name, size in result["components_bytes"].items():
        table.add_row(name.replace("_", " "), f"{size / 1e9:,.3f}")
    table.add_row("total", f"{result['total_bytes'] / 1e9:,.3f}", style="bold")
    console.print(table)
    verdict = "fits" if result["fits"] else "does NOT fit"
    console.print(
        f"batch {result['batch_size']} {verdict} in {result['device_memory_bytes'] / 1e9:g} GB; "
        f"largest batch that fits: {result['largest_batch'] if result['largest_batch'] is not None else 'unknown'}",
        highlight=False,
    )
    for note in result["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
