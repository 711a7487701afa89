"""Training FLOPs of encoder-decoders: hand-computed, and equal to what torch's FLOP counter sees in a real BART."""

from __future__ import annotations

import pytest

from greentune.finetune.flops import (
    EncoderDecoderShape,
    forward_flops,
    model_flops_utilization,
    training_flops,
)


def test_forward_flops_by_hand() -> None:
    shape = EncoderDecoderShape(d_model=2, ffn_dim=4, encoder_layers=1, decoder_layers=1, vocab_size=10)
    # encoder, per source token: 8·4 + 4·2·4 + 4·3·2 = 88; × 3 tokens = 264
    # decoder, per target token: 8·4 + 4·4 + 4·2·4 + 4·2·2 + 4·3·2 = 120; × 2 = 240; cross K/V 4·4·3 = 48
    # LM head: 2·2·10·2 = 80
    assert forward_flops(shape, source_tokens=3, target_tokens=2) == 264 + 240 + 48 + 80
    assert training_flops(shape, 3, 2) == 3 * 632


@pytest.mark.parametrize(("source_tokens", "target_tokens"), [(7, 3), (20, 9)])
def test_forward_flops_equal_torchs_count_on_a_real_bart(source_tokens: int, target_tokens: int) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(
        vocab_size=50, d_model=16, encoder_ffn_dim=24, decoder_ffn_dim=24, encoder_layers=2, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, max_position_embeddings=64,
    )  # fmt: skip
    model = BartForConditionalGeneration(config).eval()
    model.set_attn_implementation("eager")
    inputs = torch.randint(4, 50, (1, source_tokens))
    targets = torch.randint(4, 50, (1, target_tokens))
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(input_ids=inputs, decoder_input_ids=targets)
    assert forward_flops(EncoderDecoderShape.from_config(config), source_tokens, target_tokens) == (
        counter.get_total_flops()
    )


def test_mfu_is_flops_over_peak_time() -> None:
    # 1.5e15 FLOPs in 2 s on one 1,000 TFLOP/s device: 0.75
    assert model_flops_utilization(1.5e15, 2.0, 1000.0) == pytest.approx(0.75)
    assert model_flops_utilization(1.5e15, 2.0, 1000.0, devices=3) == pytest.approx(0.25)
