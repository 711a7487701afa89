"""Token-budget batching: batches filled up to a budget of padded tokens from length-sorted samples.

A fixed batch size pads every sample to the longest one in its batch; on
summarization data whose sources range from 20 to 800 tokens most of the
compute goes to padding. Here a batch holds as many samples of similar length
as fit in `budget_tokens` padded tokens, counted as (longest source + longest
target) × samples, so short samples make big batches and long ones small.
Batches are formed once from the length-sorted data set (their number is
fixed, as the Trainer needs for its step count) and their order is shuffled
every epoch, the way fairseq's `batch_by_size` does. Written by hand because
neither torch nor transformers ships a sampler that fills batches to a token
budget: `group_by_length` and `BatchRebalanceSampler` keep a fixed number of
samples per optimizer step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from greentune.errors import GreentuneError


@dataclass(frozen=True)
class SampleLength:
    """Token lengths of one training sample after truncation."""

    source_tokens: int
    target_tokens: int


def padded_tokens(lengths: Sequence[SampleLength], batch: Sequence[int]) -> int:
    """Tokens a batch occupies once padded: (longest source + longest target) × samples."""
    if not batch:
        return 0
    longest_source = max(lengths[index].source_tokens for index in batch)
    longest_target = max(lengths[index].target_tokens for index in batch)
    return (longest_source + longest_target) * len(batch)


def token_budget_batches(lengths: Sequence[SampleLength], budget_tokens: int) -> list[list[int]]:
    """Sample indices grouped into batches of at most `budget_tokens` padded tokens, in length order.

    Raises when a single sample does not fit the budget (raise the budget or cut max lengths).
    """
    longest = max((length.source_tokens + length.target_tokens for length in lengths), default=0)
    if longest > budget_tokens:
        raise GreentuneError(
            f"strategies.token_budget {budget_tokens} is smaller than the longest sample ({longest} tokens "
            "source + target); raise it or lower data.max_source_tokens / max_target_tokens"
        )
    order = sorted(range(len(lengths)), key=lambda index: (lengths[index].source_tokens, lengths[index].target_tokens))
    batches: list[list[int]] = []
    current: list[int] = []
    longest_source = longest_target = 0
    for index in order:
        source = max(longest_source, lengths[index].source_tokens)
        target = max(longest_target, lengths[index].target_tokens)
        if current and (source + target) * (len(current) + 1) > budget_tokens:
            batches.append(current)
            current, source, target = [], lengths[index].source_tokens, lengths[index].target_tokens
        current.append(index)
        longest_source, longest_target = source, target
    if current:
        batches.append(current)
    return batches


def padding_share(lengths: Sequence[SampleLength], batches: Sequence[Sequence[int]]) -> float:
    """Share (0–1) of the padded tokens of `batches` that are padding."""
    real = sum(lengths[index].source_tokens + lengths[index].target_tokens for batch in batches for index in batch)
    padded = sum(padded_tokens(lengths, batch) for batch in batches)
    return 1.0 - real / padded if padded else 0.0


def fixed_size_batches(count: int, batch_size: int, seed: int) -> list[list[int]]:
    """Shuffled batches of `batch_size` (the Trainer's default), to compare padding against."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [order[start : start + batch_size] for start in range(0, count, batch_size)]


class TokenBudgetBatchSampler:
    """A DataLoader `batch_sampler`: the token-budget batches, in a new order every epoch.

    `set_epoch` (called by the Trainer through accelerate) reseeds the order;
    each epoch yields every sample exactly once.
    """

    def __init__(self, lengths: Sequence[SampleLength], budget_tokens: int, seed: int) -> None:
        """Form the batches of `lengths` under `budget_tokens`; `seed` fixes the per-epoch orders."""
        self.batches = token_budget_batches(lengths, budget_tokens)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the batch order of `epoch`."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.batches)))
        random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        self.epoch += 1  # a loop that does not call set_epoch still gets a new order
        for position in order:
            yield list(self.batches[position])
