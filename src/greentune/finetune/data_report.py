"""Token-length distribution and truncation rate of a data set at the chosen max lengths.

Truncation silently removes what the summary needed (the seeds warn it hurts
ROUGE), so every run records how much of each split its max lengths cut.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from greentune.finetune.data import TextSplit, TextSplits


@dataclass(frozen=True)
class LengthStats:
    """Token lengths of one text column, before truncation."""

    count: int
    mean_tokens: float
    p50_tokens: float
    p90_tokens: float
    p99_tokens: float
    max_tokens: int
    max_length: int
    truncated_pct: float


def length_stats(lengths: list[int], max_length: int) -> LengthStats:
    """Distribution of `lengths` and the share (%) longer than `max_length`."""
    import numpy as np

    if not lengths:
        return LengthStats(0, 0.0, 0.0, 0.0, 0.0, 0, max_length, 0.0)
    values = np.asarray(lengths)
    return LengthStats(
        count=len(lengths),
        mean_tokens=round(float(values.mean()), 2),
        p50_tokens=float(np.percentile(values, 50)),
        p90_tokens=float(np.percentile(values, 90)),
        p99_tokens=float(np.percentile(values, 99)),
        max_tokens=int(values.max()),
        max_length=max_length,
        truncated_pct=round(100.0 * float((values > max_length).mean()), 2),
    )


def split_report(
    tokenizer: Any, split: TextSplit, max_source_tokens: int, max_target_tokens: int
) -> dict[str, LengthStats]:
    """Source and target length statistics of one split."""
    sources = tokenizer(split.sources, truncation=False)["input_ids"]
    targets = tokenizer(text_target=split.targets, truncation=False)["input_ids"]
    return {
        "source": length_stats([len(ids) for ids in sources], max_source_tokens),
        "target": length_stats([len(ids) for ids in targets], max_target_tokens),
    }


def data_report(tokenizer: Any, splits: TextSplits, max_source_tokens: int, max_target_tokens: int) -> dict[str, Any]:
    """Per split and column: length distribution and truncation rate, as plain JSON-able dicts."""
    parts = {"train": splits.train, "validation": splits.validation}
    if splits.test is not None:
        parts["test"] = splits.test
    return {
        "description": splits.description,
        **{
            name: {
                column: asdict(stats)
                for column, stats in split_report(tokenizer, split, max_source_tokens, max_target_tokens).items()
            }
            for name, split in parts.items()
        },
    }


def report_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The headline numbers as flat metrics, e.g. data.train.source.truncated_pct."""
    metrics: dict[str, float] = {}
    for split_name, split in report.items():
        if not isinstance(split, dict):
            continue
        for column, stats in split.items():
            if not isinstance(stats, dict):  # train_batching: one level of numbers
                metrics[f"data.{split_name}.{column}"] = float(stats)
                continue
            for key in ("mean_tokens", "p90_tokens", "truncated_pct"):
                metrics[f"data.{split_name}.{column}.{key}"] = float(stats[key])
    return metrics
