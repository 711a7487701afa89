"""Training FLOPs of an encoder-decoder transformer, counted per real token (for MFU).

The Trainer's `total_flos` is 6 × parameters × input tokens: it charges every
parameter — decoder and LM head included — to every padded source token, and
counts no target tokens, so for BART it is far from the work done. Here each
matrix multiply is counted where it happens (2 FLOPs per multiply-add; the
backward pass twice the forward): encoder layers on source tokens, decoder
self- and cross-attention and feed-forward on target tokens, cross-attention
keys and values on source tokens once per decoder layer, attention scores by
sequence length, and the LM head on target tokens. Embedding look-ups,
norms and softmax are left out (under 1 % for BART-large).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FORWARD_AND_BACKWARD = 3  # backward ≈ 2 × forward


@dataclass(frozen=True)
class EncoderDecoderShape:
    """What the FLOPs depend on: width, feed-forward width, layers, vocabulary."""

    d_model: int
    ffn_dim: int
    encoder_layers: int
    decoder_layers: int
    vocab_size: int

    @classmethod
    def from_config(cls, config: Any) -> EncoderDecoderShape:
        """From a BART/PEGASUS-style (`d_model`, `encoder_ffn_dim`) or T5-style (`d_ff`, `num_layers`) config."""
        ffn = getattr(config, "encoder_ffn_dim", None) or config.d_ff
        encoder_layers = getattr(config, "encoder_layers", None) or config.num_layers
        decoder_layers = getattr(config, "decoder_layers", None) or getattr(config, "num_decoder_layers", None)
        return cls(config.d_model, ffn, encoder_layers, decoder_layers or encoder_layers, config.vocab_size)


def forward_flops(shape: EncoderDecoderShape, source_tokens: int, target_tokens: int) -> int:
    """Forward-pass FLOPs of one sample with `source_tokens` and `target_tokens` real tokens."""
    d, f, s, t = shape.d_model, shape.ffn_dim, source_tokens, target_tokens
    encoder_per_token = 8 * d * d + 4 * d * f + 4 * s * d  # Q,K,V,O projections; feed-forward; QKᵀ and AV
    decoder_per_token = 8 * d * d + 4 * d * d + 4 * d * f + 4 * t * d + 4 * s * d  # self, cross Q/O, FFN, scores
    cross_keys_values = 4 * d * d * s  # K and V of the encoder output, per decoder layer
    lm_head = 2 * d * shape.vocab_size * t
    return (
        shape.encoder_layers * s * encoder_per_token
        + shape.decoder_layers * (t * decoder_per_token + cross_keys_values)
        + lm_head
    )


def training_flops(shape: EncoderDecoderShape, source_tokens: int, target_tokens: int) -> int:
    """Forward and backward FLOPs of one training sample."""
    return FORWARD_AND_BACKWARD * forward_flops(shape, source_tokens, target_tokens)


def model_flops_utilization(flops: float, duration_s: float, peak_tflops: float, devices: int = 1) -> float:
    """Share (0–1) of the devices' peak that `flops` in `duration_s` amount to."""
    return flops / (duration_s * peak_tflops * 1e12 * devices)
