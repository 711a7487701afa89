"""Will it fit? Training memory of an encoder-decoder model by component, and the largest batch that fits.

Static memory per parameter follows the ZeRO paper (Rajbhandari et al. 2020,
arXiv:1910.02054): weights in the training precision (2 bytes for fp16/bf16,
4 for fp32); gradients of the trainable parameters in the same precision;
optimizer states of the trainable parameters (AdamW: two fp32 moments, plus
an fp32 master copy under mixed precision — the paper's K = 12; SGD with
momentum: one fp32 buffer). ZeRO stage 1 shards the optimizer states over the
GPUs, stage 2 also the gradients, stage 3 also the weights.

Activations per transformer layer follow Korthikanti et al. 2022 (arXiv:2205.05198,
no sequence/tensor parallelism): s·b·h·(34 + 5·a·s/h) bytes in 16-bit
(doubled for fp32), with s the sequence length, b the batch, h the hidden
size and a the heads; a decoder layer adds its cross-attention over the
source (scores and softmax: 5·a·t·s·b bytes plus 2 × t·b·h of projections).
The logits add b·t·V × 4 bytes (fp32 for the loss). Gradient checkpointing
keeps only each layer's 16-bit input (2·s·b·h bytes) plus one layer's full
activations. Framework overhead (CUDA context, allocator fragmentation) is
not modelled: leave a margin.

Hand-written because no library answers this for encoder-decoder training
with LoRA and ZeRO (accelerate's `estimate-memory` counts weights only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from greentune.errors import GreentuneError

BYTES_PER_GB = 1e9


class Optimizer(StrEnum):
    """Optimizers whose state size is modelled."""

    ADAMW = "adamw"
    SGD = "sgd"


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a model: parameters and its transformer dimensions."""

    parameters: int
    hidden: int
    heads: int
    encoder_layers: int
    decoder_layers: int
    vocab: int


@dataclass(frozen=True)
class MemoryRequest:
    """One training configuration: model, batch, lengths (tokens), precision, optimizer, LoRA, checkpointing, ZeRO."""

    shape: ModelShape
    batch_size: int
    source_tokens: int
    target_tokens: int
    precision: str = "fp32"
    optimizer: Optimizer = Optimizer.ADAMW
    trainable_fraction: float = 1.0
    gradient_checkpointing: bool = False
    zero_stage: int = 0
    gpus: int = 1


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per device by component; `total_bytes` is their sum."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float

    @property
    def total_bytes(self) -> float:
        """Everything on one device."""
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes


def _precision_bytes(precision: str) -> int:
    if precision in ("fp16", "bf16"):
        return 2
    if precision == "fp32":
        return 4
    raise GreentuneError(f"precision for --memory must be fp32, fp16 or bf16, got {precision!r}")


def _check(request: MemoryRequest) -> None:
    if request.batch_size < 1 or request.source_tokens < 1 or request.target_tokens < 1:
        raise GreentuneError("batch size, source and target lengths must be whole numbers ≥ 1")
    if not 0 < request.trainable_fraction <= 1:
        raise GreentuneError(f"the trainable fraction must be in (0, 1], got {request.trainable_fraction:g}")
    if request.zero_stage not in (0, 1, 2, 3):
        raise GreentuneError(f"ZeRO stage must be 0, 1, 2 or 3, got {request.zero_stage}")
    if request.gpus < 1:
        raise GreentuneError(f"GPUs must be ≥ 1, got {request.gpus}")


def _layer_activations(tokens: int, batch: int, hidden: int, heads: int, scale: float) -> float:
    return tokens * batch * hidden * (34 + 5 * heads * tokens / hidden) * scale


def activations_bytes(request: MemoryRequest) -> float:
    """Activation bytes of one forward pass kept for the backward pass (see the module docstring)."""
    shape, b = request.shape, request.batch_size
    s, t, h, a = request.source_tokens, request.target_tokens, shape.hidden, shape.heads
    scale = _precision_bytes(request.precision) / 2
    encoder = _layer_activations(s, b, h, a, scale)
    decoder = _layer_activations(t, b, h, a, scale) + (5 * a * t * s * b + 2 * 2 * t * b * h) * scale
    logits = b * t * shape.vocab * 4
    if request.gradient_checkpointing:
        kept = (shape.encoder_layers * 2 * s * b * h + shape.decoder_layers * 2 * t * b * h) * scale
        return kept + max(encoder if shape.encoder_layers else 0.0, decoder if shape.decoder_layers else 0.0) + logits
    return shape.encoder_layers * encoder + shape.decoder_layers * decoder + logits


def estimate_memory(request: MemoryRequest) -> MemoryEstimate:
    """Per-device training memory by component."""
    _check(request)
    n = request.shape.parameters
    trainable = n * request.trainable_fraction
    width = _precision_bytes(request.precision)
    mixed = width == 2
    adam_bytes, sgd_bytes = (12, 8) if mixed else (8, 4)
    state_per_param = adam_bytes if request.optimizer == Optimizer.ADAMW else sgd_bytes
    # LoRA under mixed precision keeps no master copy of the frozen weights: only trainable ones have state
    optimizer = trainable * state_per_param
    gradients = trainable * width
    weights = float(n * width)
    stage, gpus = request.zero_stage, request.gpus
    if stage >= 1:
        optimizer /= gpus
    if stage >= 2:
        gradients /= gpus
    if stage >= 3:
        weights /= gpus
    return MemoryEstimate(
        weights_bytes=weights,
        gradients_bytes=gradients,
        optimizer_bytes=optimizer,
        activations_bytes=activations_bytes(request),
    )


def largest_batch(request: MemoryRequest, device_bytes: float) -> int:
    """The largest batch size whose estimate fits in `device_bytes` (0 when not even batch 1 fits)."""
    from dataclasses import replace

    def fits(batch: int) -> bool:
        return estimate_memory(replace(request, batch_size=batch)).total_bytes <= device_bytes

    if not fits(1):
        return 0
    high = 1
    while fits(high * 2):
        high *= 2
        if high > 1 << 24:
            return high
    low, high = high, high * 2  # fits(low), not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def shape_from_config(config: object, parameters: int) -> ModelShape:
    """The dimensions of a transformers config (BART/T5/encoder-decoder names) with a parameter count."""

    def first(*names: str) -> int:
        for name in names:
            value = getattr(config, name, None)
            if isinstance(value, int):
                return value
        raise GreentuneError(f"the model config has none of {', '.join(names)}; give --params with a known config")

    encoder = getattr(config, "encoder", None)
    decoder = getattr(config, "decoder", None)
    if encoder is not None and decoder is not None:  # EncoderDecoderModel (the built-in BERT2BERT)
        enc, dec = shape_from_config(encoder, 0), shape_from_config(decoder, 0)
        return ModelShape(parameters, enc.hidden, enc.heads, enc.encoder_layers, dec.encoder_layers, dec.vocab)
    layers = first("encoder_layers", "num_layers", "num_hidden_layers")
    return ModelShape(
        parameters=parameters,
        hidden=first("d_model", "hidden_size"),
        heads=first("encoder_attention_heads", "num_heads", "num_attention_heads"),
        encoder_layers=layers,
        decoder_layers=getattr(config, "decoder_layers", None) or getattr(config, "num_decoder_layers", None) or layers,
        vocab=first("vocab_size"),
    )
