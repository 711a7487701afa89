"""Split one batch's measured energy (and its carbon and cost) across the batch's requests by token work.

A request's token work is its input tokens plus its output tokens: the
encoder reads every input token and the decoder runs once per output token,
so the two together are the simplest count of what a request made the
hardware do. The shares sum to 1, so the requests' energy sums to the batch
window's energy exactly (up to float rounding). A batch whose requests did no
token work at all (empty inputs and outputs) is split evenly.
"""

from __future__ import annotations

from collections.abc import Sequence


def token_work(input_tokens: int, output_tokens: int) -> int:
    """The work a request is charged by: input plus output tokens."""
    return input_tokens + output_tokens


def shares(works: Sequence[int]) -> list[float]:
    """Each request's fraction of its batch (sums to 1; equal when no request did any work)."""
    if not works:
        return []
    total = sum(works)
    if total <= 0:
        return [1.0 / len(works)] * len(works)
    return [work / total for work in works]
