"""Dynamic INT8 backend: torch's `quantize_dynamic` on every `nn.Linear` (int8 weights, activations quantized per batch).

CPU only (PyTorch's dynamic quantized kernels are fbgemm/qnnpack). The model
then runs through the eager backend's `generate`.
"""

from __future__ import annotations

from dataclasses import replace

from greentune.infer.eager import EagerSummarizer, input_limit, load_transformers_model
from greentune.infer.summarizer import Backend, GenerationSettings, Precision, resolved_precision

PRECISIONS: dict[str, tuple[Precision, ...]] = {"cpu": (Precision.INT8,)}


def load_int8(name: str, settings: GenerationSettings, device: str) -> EagerSummarizer:
    """Load the model in fp32 on CPU and swap its Linear layers for dynamically quantized int8 ones."""
    import warnings

    import torch

    precision = resolved_precision(Backend.INT8, settings, device, PRECISIONS)
    loaded = load_transformers_model(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao on every call
        from torch.ao.quantization import quantize_dynamic

        model = quantize_dynamic(loaded.model.eval(), {torch.nn.Linear}, dtype=torch.qint8)
    return EagerSummarizer(
        model=model,
        tokenizer=loaded.tokenizer,
        settings=replace(settings, precision=precision, max_input_tokens=input_limit(model, settings)),
        device=device,
        backend=Backend.INT8,
    )
