"""Evaluation generation in length-sorted batches with a static KV cache where the model has one (issue 13).

Sorting must change nothing but the padding: the summaries come back in the
validation split's order, word for word, and ROUGE is the same. The padding
shares are hand-computed on six sources.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from greentune.finetune.eval_generation import (
    GenerationPlan,
    Shard,
    eval_batching_report,
    generate_shard,
    generation_batches,
    merge_shards,
    shard_batches,
    source_padding_share,
)
from greentune.ledger.record import KvCache
from ranks import run_ranks
from tiny_models import TINY_BART, run_tiny

LENGTHS = [10, 40, 12, 38, 11, 39]  # sources of alternating length, as a shuffled split has them


def test_sorted_batches_take_the_longest_sources_first_and_pad_less() -> None:
    assert generation_batches(LENGTHS, 2, sort_by_length=False) == [[0, 1], [2, 3], [4, 5]]
    assert generation_batches(LENGTHS, 2, sort_by_length=True) == [[1, 5], [3, 2], [4, 0]]
    real = sum(LENGTHS)  # 150 tokens
    # data-set order: [10, 40] → 2 × 40, [12, 38] → 2 × 38, [11, 39] → 2 × 39 = 234 padded tokens
    unsorted = source_padding_share(LENGTHS, generation_batches(LENGTHS, 2, False))
    assert unsorted == pytest.approx(float(1 - Fraction(real, 234)))  # 0.3590
    # sorted: [40, 39] → 80, [38, 12] → 76, [11, 10] → 22 = 178 padded tokens
    sorted_share = source_padding_share(LENGTHS, generation_batches(LENGTHS, 2, True))
    assert sorted_share == pytest.approx(float(1 - Fraction(real, 178)))  # 0.1573
    assert eval_batching_report(LENGTHS, 2) == {
        "batch_size": 2,
        "padding_share_dataset_order": 0.359,
        "padding_share_sorted": 0.1573,
    }


def test_ties_keep_their_order_and_the_last_batch_is_short() -> None:
    assert generation_batches([5, 7, 5, 7, 6], 2, sort_by_length=True) == [[1, 3], [4, 0], [2]]


SYNTHETIC = {
    "data.name": "synthetic",
    "data.synthetic_samples": 90,  # 9 validation sources of gamma-distributed lengths
    "data.synthetic_source_mean_tokens": 16.0,
    "data.synthetic_target_mean_tokens": 6.0,
    "data.max_train_samples": 8,
    "data.max_eval_samples": 9,
    "train.eval_batch_size": 4,
    "model.config_overrides.init_std": 1.0,  # large random weights: each summary follows its source
    "train.learning_rate": 1e-20,  # the random model stays random: it writes words, not padding
    "generate.min_new_tokens": 6,  # no early end of sequence: summaries to compare, word for word
    "generate.max_new_tokens": 6,
}


def _predictions(record) -> list[dict[str, object]]:
    lines = (Path(record.artifact_dir) / "predictions_validation.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_sorted_batches_and_a_static_cache_change_the_padding_not_the_summaries(tmp_path: Path) -> None:
    plain = run_tiny(tmp_path, **SYNTHETIC, **{"ledger.run_name": "plain"})
    frugal = run_tiny(
        tmp_path,
        **SYNTHETIC,
        **{
            "ledger.run_name": "sorted",
            "strategies.eval_sort_by_length": True,
            "strategies.eval_batch_size": 3,
            "strategies.eval_static_cache": True,
        },
    )
    texts = [str(pair["prediction"]) for pair in _predictions(plain)]
    assert len(texts) == 9 and len(set(texts)) == 9 and all(texts)  # a summary in the wrong place would show
    assert _predictions(frugal) == _predictions(plain)  # same order, same text, same references
    assert frugal.rouge == plain.rouge
    report = frugal.data_report["eval_batching"]
    assert report["sorted_by_length"] is True and report["batch_size"] == 3
    assert report["padding_share_sorted"] < report["padding_share_dataset_order"]
    assert plain.data_report["eval_batching"]["batch_size"] == 4  # train.eval_batch_size when the switch is unset
    assert plain.eval_cache is KvCache.DYNAMIC
    assert frugal.eval_cache is KvCache.STATIC  # BART has a static cache
    assert frugal.strategies["eval_static_cache"] is True


def test_only_models_with_a_static_cache_get_one() -> None:
    from transformers import (
        BartConfig,
        BartForConditionalGeneration,
        BertConfig,
        EncoderDecoderConfig,
        EncoderDecoderModel,
    )

    from greentune.finetune.eval_generation import supports_static_cache

    bart = BartForConditionalGeneration(BartConfig(vocab_size=100, **TINY_BART))
    bert = {"vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = EncoderDecoderConfig.from_encoder_decoder_configs(
        BertConfig(**bert), BertConfig(**bert, is_decoder=True, add_cross_attention=True)
    )
    bert2bert = EncoderDecoderModel(config)  # the built-in model's class
    assert supports_static_cache(bart) is True
    assert supports_static_cache(bert2bert) is False


# --- a multi-process job: each process generates its share of the batches ------------------------------------


def test_each_process_takes_every_nth_batch_and_padding_evens_the_calls_out() -> None:
    batches = [[0, 1], [2, 3], [4]]
    assert shard_batches(batches, Shard(0, 2)) == [([0, 1], True), ([4], True)]
    assert shard_batches(batches, Shard(1, 2)) == [([2, 3], True)]
    # ZeRO-3 or FSDP: every process calls generate twice; the repeat's summaries are dropped
    assert shard_batches(batches, Shard(1, 2), equal_calls=True) == [([2, 3], True), ([0, 1], False)]
    assert shard_batches(batches, Shard(3, 4)) == []
    assert shard_batches(batches, Shard(3, 4), equal_calls=True) == [([0, 1], False)]
    assert shard_batches(batches, Shard()) == [([0, 1], True), ([2, 3], True), ([4], True)]


def test_the_pieces_merge_back_in_order_and_a_gap_is_an_error() -> None:
    assert merge_shards(5, [{1: "b", 3: "d"}, {4: "e", 0: "a", 2: "c"}]) == ("a", "b", "c", "d", "e")
    with pytest.raises(RuntimeError, match="cover 4 of 5"):
        merge_shards(5, [{0: "a", 1: "b"}, {2: "c", 4: "e"}])


def test_sharded_generation_gives_the_one_process_summaries_with_fewer_calls_each() -> None:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    model = BartForConditionalGeneration(BartConfig(vocab_size=512, **{**TINY_BART, "init_std": 1.0}))
    model.generation_config.min_new_tokens = model.generation_config.max_new_tokens = 8
    calls: list[int] = []
    generate = model.generate

    def counted(**inputs):  # watched, not replaced: the real generate runs
        calls.append(len(inputs["input_ids"]))
        return generate(**inputs)

    model.generate = counted
    features = [
        {"input_ids": [5 + (index * 37 + offset * 11) % 500 for offset in range(3 + index)]} for index in range(7)
    ]

    def collate(batch):
        longest = max(len(feature["input_ids"]) for feature in batch)
        ids = [feature["input_ids"] + [1] * (longest - len(feature["input_ids"])) for feature in batch]
        mask = [[1] * len(feature["input_ids"]) + [0] * (longest - len(feature["input_ids"])) for feature in batch]
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask)}

    def decode(ids):
        return [" ".join(str(token) for token in row) for row in ids.tolist()]

    plan = GenerationPlan(batch_size=2, sort_by_length=True, static_cache=False)
    whole, _ = generate_shard(model, features, collate, decode, plan)
    assert len(calls) == 4 and len(set(whole.values())) == 7  # 7 sources in 4 batches; summaries differ
    calls.clear()
    pieces = [generate_shard(model, features, collate, decode, plan, Shard(index, 3))[0] for index in range(3)]
    assert len(calls) == 4  # the three processes share the 4 batches: 2 + 1 + 1 calls
    assert merge_shards(7, pieces) == merge_shards(7, [whole])
    calls.clear()
    padded = [generate_shard(model, features, collate, decode, plan, Shard(index, 3), True)[0] for index in range(3)]
    assert len(calls) == 6  # each process calls twice; the repeats' summaries are dropped
    assert merge_shards(7, padded) == merge_shards(7, [whole])


GATHER_SCRIPT = """
import json
from greentune.finetune.eval_generation import Shard, merge_shards
from greentune.finetune.eval_trainer import gather_pieces
from accelerate import PartialState

state = PartialState()
shard = Shard(state.process_index, state.num_processes)
piece = {index: f"summary {index}" for index in range(shard.index, 5, shard.count)}
print(json.dumps(merge_shards(5, gather_pieces(piece, shard))))
"""


def test_two_processes_each_end_with_all_summaries() -> None:
    expected = [f"summary {index}" for index in range(5)]
    assert run_ranks(GATHER_SCRIPT, world_size=2, local_ranks=[0, 1]) == [expected, expected]
