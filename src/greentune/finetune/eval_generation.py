"""Evaluation generation: summaries of a split in length-sorted batches, in the split's order again.

Seq2SeqTrainer generates inside its evaluation loop, in data-set order and at
the loss batch size, so a batch pads every source to its longest one. Here the
sources are put in descending length order, cut into batches of
`batch_size`, generated, and the summaries put back where each source was
before ROUGE sees them. The Trainer has no switch for this (its
`group_by_length` orders training only), so it is a few lines of our own;
batches go through the Trainer's data collator, so a family's extra inputs
(LED's global attention) come with them.

Where the model supports it (`supports_static_cache`: transformers 5 marks
such models `_can_compile_fullgraph`; BART, T5 and PEGASUS do, BERT2BERT's
`EncoderDecoderModel` does not) `generate` gets `cache_implementation="static"`,
and on a GPU transformers then compiles the decoder step with torch.compile;
elsewhere the default dynamic cache is used, and the result says which.

In a multi-process job each process generates its `Shard` of the batches
(every n-th, so each gets long and short ones) and `merge_shards` puts the
gathered pieces back in order: the pass costs one split's generation, not n.
Where a forward needs every process (DeepSpeed ZeRO-3, FSDP: ``equal_calls``)
a process short of batches repeats one and drops its summaries, so that all
call `generate` equally often (transformers then syncs their steps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from greentune.finetune.token_batching import SampleLength, padding_share
from greentune.ledger.record import KvCache


@dataclass(frozen=True)
class GenerationPlan:
    """How evaluation generates: summaries per `generate` call, length order, static cache where supported."""

    batch_size: int
    sort_by_length: bool
    static_cache: bool


@dataclass(frozen=True)
class GeneratedTexts:
    """Summaries in the order of their sources, and the KV cache `generate` used."""

    texts: tuple[str, ...]
    cache: KvCache


@dataclass(frozen=True)
class Shard:
    """This process's share of a generation pass: batches ``index``, ``index + count``, … of ``count`` processes."""

    index: int = 0
    count: int = 1


def generation_batches(source_tokens: Sequence[int], batch_size: int, sort_by_length: bool) -> list[list[int]]:
    """Indices of the sources per `generate` call: in data-set order, or longest source first (ties keep order)."""
    order = list(range(len(source_tokens)))
    if sort_by_length:
        order.sort(key=lambda index: -source_tokens[index])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def source_padding_share(source_tokens: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share (0–1) of the source tokens fed to `generate` that are padding."""
    return padding_share([SampleLength(tokens, 0) for tokens in source_tokens], batches)


def eval_batching_report(source_tokens: Sequence[int], batch_size: int) -> dict[str, float | int]:
    """Padding share of the evaluation's generation batches in data-set order and sorted by length."""
    return {
        "batch_size": batch_size,
        "padding_share_dataset_order": round(
            source_padding_share(source_tokens, generation_batches(source_tokens, batch_size, False)), 4
        ),
        "padding_share_sorted": round(
            source_padding_share(source_tokens, generation_batches(source_tokens, batch_size, True)), 4
        ),
    }


def supports_static_cache(model: Any) -> bool:
    """Whether `generate` can run this model with `cache_implementation="static"` (transformers 5's flag)."""
    return bool(getattr(model, "_can_compile_fullgraph", False)) and model._supports_default_dynamic_cache()


def shard_batches(
    batches: Sequence[list[int]], shard: Shard, equal_calls: bool = False
) -> list[tuple[list[int], bool]]:
    """This process's batches, each with whether to keep its summaries; with ``equal_calls``, padded with repeats
    of the first batch (summaries dropped) to as many calls as the process with most batches makes."""
    mine = [(batch, True) for batch in batches[shard.index :: shard.count]]
    if equal_calls and batches:
        calls = -(-len(batches) // shard.count)
        mine += [(batches[0], False)] * (calls - len(mine))
    return mine


def generate_shard(
    model: Any,
    features: Sequence[dict[str, Any]],
    collate: Callable[[list[dict[str, Any]]], Any],
    decode: Callable[[Any], list[str]],
    plan: GenerationPlan,
    shard: Shard = Shard(),
    equal_calls: bool = False,
) -> tuple[dict[int, str], KvCache]:
    """Summaries of this process's share of `features` (tokenized sources) by feature index, and the KV cache used.

    `collate` pads a list of features into a batch of tensors on the model's device, `decode` turns
    generated ids into texts; ``equal_calls`` as `shard_batches` says.
    """
    import torch

    cache = KvCache.STATIC if plan.static_cache and supports_static_cache(model) else KvCache.DYNAMIC
    options = {"cache_implementation": "static"} if cache is KvCache.STATIC else {}
    batches = generation_batches(
        [len(feature["input_ids"]) for feature in features], plan.batch_size, plan.sort_by_length
    )
    texts: dict[int, str] = {}
    model.eval()
    for batch, keep in shard_batches(batches, shard, equal_calls):
        inputs = collate([dict(features[index]) for index in batch])
        with torch.no_grad():
            generated = model.generate(**inputs, **options)
        if keep:
            texts.update(zip(batch, decode(generated), strict=True))
    return texts, cache


def merge_shards(count: int, pieces: Sequence[Mapping[int, str]]) -> tuple[str, ...]:
    """The summaries of ``count`` features in their order, from the pieces every process generated."""
    merged = {index: text for piece in pieces for index, text in piece.items()}
    if sorted(merged) != list(range(count)):
        raise RuntimeError(f"generation shards cover {len(merged)} of {count} sources")
    return tuple(merged[index] for index in range(count))
