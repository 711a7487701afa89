"""Token-budget batching: batches within the budget, every sample once per epoch, a new order each epoch."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greentune.errors import GreentuneError
from greentune.finetune.token_batching import (
    SampleLength,
    TokenBudgetBatchSampler,
    fixed_size_batches,
    padded_tokens,
    padding_share,
    token_budget_batches,
)


def test_batches_are_filled_in_length_order_up_to_the_budget() -> None:
    lengths = [SampleLength(s, t) for s, t in [(10, 2), (50, 10), (12, 2), (30, 5), (11, 3), (49, 9)]]
    # sorted by source length: 0 (10+2), 4 (11+3), 2 (12+2), 3 (30+5), 5 (49+9), 1 (50+10)
    # budget 60: [0, 4, 2] pads to (12 + 3) × 3 = 45, adding 3 would make (30 + 5) × 4 = 140
    #            [3] alone 35, adding 5 makes (49 + 9) × 2 = 116;  [5] 58;  [1] 60
    assert token_budget_batches(lengths, 60) == [[0, 4, 2], [3], [5], [1]]
    assert [padded_tokens(lengths, batch) for batch in token_budget_batches(lengths, 60)] == [45, 35, 58, 60]
    # budget 120: [0, 4, 2] as before; [3, 5] pads to (49 + 9) × 2 = 116, adding 1 makes (50 + 10) × 3 = 180
    assert token_budget_batches(lengths, 120) == [[0, 4, 2], [3, 5], [1]]


def test_a_sample_longer_than_the_budget_is_a_clear_error() -> None:
    with pytest.raises(GreentuneError, match="token_budget 50 is smaller than the longest sample"):
        token_budget_batches([SampleLength(45, 10)], 50)


def test_padding_share_counts_pad_tokens_over_padded_tokens() -> None:
    lengths = [SampleLength(10, 2), SampleLength(30, 6)]
    # one batch: (30 + 6) × 2 = 72 padded tokens, 48 real → 24 / 72 padding
    assert padding_share(lengths, [[0, 1]]) == pytest.approx(24 / 72)
    assert padding_share(lengths, [[0], [1]]) == 0.0


@given(
    st.lists(st.tuples(st.integers(1, 200), st.integers(1, 60)), min_size=1, max_size=300),
    st.integers(260, 4000),
    st.integers(0, 3),
)
def test_every_epoch_covers_every_sample_once_within_the_budget(
    pairs: list[tuple[int, int]], budget: int, epoch: int
) -> None:
    lengths = [SampleLength(source, target) for source, target in pairs]
    sampler = TokenBudgetBatchSampler(lengths, budget, seed=42)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert all(padded_tokens(lengths, batch) <= budget for batch in batches)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))


def test_the_batch_order_changes_between_epochs_and_repeats_for_the_same_epoch() -> None:
    lengths = [SampleLength(10 + index % 50, 5) for index in range(400)]
    sampler = TokenBudgetBatchSampler(lengths, 300, seed=1)
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.append([tuple(batch) for batch in sampler])
    assert orders[0] != orders[1]
    assert orders[0] == orders[2]
    assert sorted(orders[0]) == sorted(orders[1])  # the same batches, another order


def test_token_budget_batches_pad_less_than_fixed_batches_on_varied_lengths() -> None:
    lengths = [SampleLength(20 + (index * 37) % 300, 10 + (index * 11) % 40) for index in range(256)]
    fixed = padding_share(lengths, fixed_size_batches(len(lengths), 8, seed=0))
    budget = padding_share(lengths, token_budget_batches(lengths, 8 * 340))
    assert budget < fixed / 3  # 0.107 against 0.390: sorting by length removes most padding


def test_the_recipe_trains_through_the_token_budget_trainer(tmp_path: Path) -> None:
    from greentune.finetune import run
    from tiny_models import tiny_spec

    spec = tiny_spec(tmp_path, **{"strategies.recipe": "frugal", "strategies.token_budget": 128})
    record = run(spec)
    assert record.status == "FINISHED"
    assert record.strategies["label"] == (
        "frugal+early-stop-loss+adamw-fused+tokens128+sdpa+rouge-every2+eval-batch64+eval-sorted+static-cache"
    )
    assert (record.strategies["optimizer"], record.strategies["attention"]) == ("adamw-fused", "sdpa")
    batching = record.data_report["train_batching"]
    # 8 pairs cut to 48 + 16 tokens: 128 // 64 = 2 per batch, 4 batches (one epoch = 4 optimizer steps)
    assert (batching["batches"], batching["mean_batch_samples"]) == (4, 2.0)
    assert (
        "recipe frugal set optimizer=adamw-fused, attention=sdpa, eval_batch_size=64, eval_sort_by_length=True, "
        "eval_static_cache=True, rouge_every_epochs=2, early_stopping=eval_loss/patience 2"
    ) in record.notes
    assert (record.rouge_evaluations, record.stop_reason, record.eval_cache) == (1, "epoch-budget", "static")


def test_the_recipe_fills_only_the_switches_left_unset() -> None:
    from greentune.finetune.recipe import Hardware, resolve_recipe
    from greentune.finetune.spec import StrategiesConfig

    gpu = Hardware(has_cuda=True, has_bf16=True)
    resolved = resolve_recipe(StrategiesConfig(recipe="frugal", attention="eager", batch_size=16), gpu)
    chosen = resolved.strategies
    assert (chosen.precision, chosen.token_budget, chosen.optimizer, chosen.attention) == (
        "bf16",
        65536,
        "adamw-fused",
        "eager",  # attention was set by the user
    )
    assert (chosen.torch_compile, chosen.dataloader_workers) == (True, 4)
    assert "instead of batch_size 16" in resolved.notes[0]
    kept = resolve_recipe(StrategiesConfig(recipe="frugal", token_budget=None), gpu).strategies
    assert kept.token_budget is None  # an explicit null keeps the batch size
    cpu = resolve_recipe(StrategiesConfig(recipe="frugal"), Hardware(has_cuda=False, has_bf16=False))
    assert (cpu.strategies.precision, cpu.strategies.token_budget, cpu.strategies.torch_compile) == (
        "fp32",
        2048,
        False,
    )
    old_gpu = resolve_recipe(StrategiesConfig(recipe="frugal"), Hardware(has_cuda=True, has_bf16=False))
    assert old_gpu.strategies.precision == "fp32"
    assert old_gpu.notes[0] == "recipe frugal: this GPU has no bf16, so training stays in fp32"
    assert resolve_recipe(StrategiesConfig(), gpu).strategies == StrategiesConfig()  # no recipe, no change
