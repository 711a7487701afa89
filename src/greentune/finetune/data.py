"""Summarization data as (source, target) text pairs per split.

Four kinds of source, chosen by `data.name`:
- `aclsum`: the built-in ACLSum package (offline); one example per paper and
  aspect, the source being "<aspect>: " + the chosen sections;
- `synthetic`: random words with gamma-distributed lengths around the chosen
  means, for offline throughput benchmarks (no quality meaning);
- a local `.jsonl` / `.csv` file: split 80/10/10 with the run's seed;
- anything else: an HF Hub dataset (`datasets.load_dataset(name, config, revision=...)`).
  Hub data sets still published as a loading script (datasets ≥ 4 no longer
  runs those) load from the Hub's parquet conversion with
  ``revision: refs/convert/parquet``; the error says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.finetune.spec import BUILTIN_DATASET, DataConfig

SYNTHETIC = "synthetic"
PARQUET_REVISION = "refs/convert/parquet"  # the branch where the Hub keeps its parquet copy of a data set
_ACLSUM_SPLITS = {"train": "train", "validation": "val", "test": "test"}


@dataclass(frozen=True)
class TextSplit:
    """Parallel lists of sources and targets."""

    sources: list[str]
    targets: list[str]

    def __len__(self) -> int:
        return len(self.sources)

    def head(self, count: int | None) -> TextSplit:
        """The first `count` pairs (all when None)."""
        if count is None:
            return self
        return TextSplit(self.sources[:count], self.targets[:count])


@dataclass(frozen=True)
class TextSplits:
    """train / validation / optional test."""

    train: TextSplit
    validation: TextSplit
    test: TextSplit | None = None
    description: str = field(default="")


def load_splits(config: DataConfig, seed: int = 42, vocabulary: list[str] | None = None) -> TextSplits:
    """Load the data set the config names, cut to its max_*_samples.

    `vocabulary` (whole words) is needed only by the synthetic data set.
    """
    if config.name == BUILTIN_DATASET:
        splits = _aclsum(config)
    elif config.name == SYNTHETIC:
        if not vocabulary:
            raise GreentuneError("the synthetic data set needs a tokenizer vocabulary; set model.tokenizer")
        splits = _synthetic(config, seed, vocabulary)
    elif config.name.endswith((".jsonl", ".json", ".csv")):
        splits = _local_file(config, seed)
    else:
        splits = _hub(config, seed)
    return TextSplits(
        train=splits.train.head(config.max_train_samples),
        validation=splits.validation.head(config.max_eval_samples),
        test=splits.test.head(config.max_test_samples) if splits.test is not None else None,
        description=splits.description,
    )


def _aclsum(config: DataConfig) -> TextSplits:
    from aclsum import ACLSum

    def split(name: str) -> TextSplit:
        sources: list[str] = []
        targets: list[str] = []
        for document in ACLSum(_ACLSUM_SPLITS[name]):
            text = " ".join(document.get_all_sentences(list(config.sections)))
            for aspect in config.aspects:
                sources.append(f"{config.source_prefix}{aspect}: {text}")
                targets.append(document.summaries[aspect])
        return TextSplit(sources, targets)

    return TextSplits(
        train=split("train"),
        validation=split("validation"),
        test=split("test") if config.test_split else None,
        description=f"ACLSum aspects {','.join(config.aspects)} from {','.join(config.sections)}",
    )


def _synthetic(config: DataConfig, seed: int, vocabulary: list[str]) -> TextSplits:
    import numpy as np

    rng = np.random.default_rng(seed)
    words = np.array(vocabulary)

    def split(count: int) -> TextSplit:
        # gamma with shape 4: right-skewed like real lengths, mean = shape * scale
        source_lengths = np.maximum(1, rng.gamma(4.0, config.synthetic_source_mean_tokens / 4.0, count).astype(int))
        target_lengths = np.maximum(1, rng.gamma(4.0, config.synthetic_target_mean_tokens / 4.0, count).astype(int))
        sources = [config.source_prefix + " ".join(rng.choice(words, n)) for n in source_lengths]
        targets = [" ".join(rng.choice(words, n)) for n in target_lengths]
        return TextSplit(sources, targets)

    evaluation_count = max(1, config.synthetic_samples // 10)
    return TextSplits(
        train=split(config.synthetic_samples),
        validation=split(evaluation_count),
        test=split(evaluation_count) if config.test_split else None,
        description=(
            f"synthetic: source ≈ {config.synthetic_source_mean_tokens:g}, "
            f"target ≈ {config.synthetic_target_mean_tokens:g} words (gamma lengths)"
        ),
    )


def _local_file(config: DataConfig, seed: int) -> TextSplits:
    import datasets

    path = Path(config.name)
    if not path.is_file():
        raise GreentuneError(f"data file {path} not found; give an existing .jsonl or .csv file")
    loader = "csv" if path.suffix == ".csv" else "json"
    table = datasets.load_dataset(loader, data_files=str(path), split="train")
    _check_columns(table.column_names, config, str(path))
    shuffled = table.shuffle(seed=seed)
    count = len(shuffled)
    train_end, validation_end = int(count * 0.8), int(count * 0.9)
    if train_end == 0 or validation_end == train_end:
        raise GreentuneError(f"{path} has {count} rows; give at least 10 so that each split gets one")

    def split(start: int, end: int) -> TextSplit:
        part = shuffled.select(range(start, end))
        return TextSplit(list(part[config.source_column]), list(part[config.target_column]))

    return TextSplits(
        train=split(0, train_end),
        validation=split(train_end, validation_end),
        test=split(validation_end, count) if config.test_split and validation_end < count else None,
        description=f"{path.name} ({count} rows, split 80/10/10 with the run's seed)",
    )


def _hub(config: DataConfig, seed: int) -> TextSplits:
    import datasets

    try:
        loaded = datasets.load_dataset(config.name, config.config, revision=config.revision)
    except Exception as error:  # datasets raises many types for a missing name or no network
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        if "scripts are no longer supported" in reason and config.revision is None:
            advice = f"set data.revision: {PARQUET_REVISION} to load the Hub's parquet conversion instead"
        else:
            advice = "check the name and network, or use data.name: aclsum offline"
        raise GreentuneError(f"could not load data set '{config.name}' ({reason}); {advice}") from None

    wanted = (
        (config.train_split,)
        if config.validation_split is None
        else (config.train_split, config.validation_split, config.test_split)
    )
    for name in wanted:
        if name is not None and name not in loaded:
            raise GreentuneError(f"data set '{config.name}' has no split '{name}'; it has {', '.join(loaded)}")
    parts = dict(loaded)
    if config.validation_split is None:
        # no published validation split (e.g. Reddit-TIFU): hold out 10% + 10% of train with the run's seed
        held = parts[config.train_split].train_test_split(test_size=0.2, seed=seed)
        halves = held["test"].train_test_split(test_size=0.5, seed=seed)
        parts = {"train": held["train"], "validation": halves["train"], "test": halves["test"]}
        names = ("train", "validation", "test" if config.test_split else None)
    else:
        names = (config.train_split, config.validation_split, config.test_split)

    def split(name: str) -> TextSplit:
        part = parts[name]
        _check_columns(part.column_names, config, config.name)
        return TextSplit(list(part[config.source_column]), list(part[config.target_column]))

    return TextSplits(
        train=split(names[0]),
        validation=split(names[1]),
        test=split(names[2]) if names[2] else None,
        description=f"{config.name}" + (f" ({config.config})" if config.config else ""),
    )


def _check_columns(columns: list[str], config: DataConfig, origin: str) -> None:
    for column in (config.source_column, config.target_column):
        if column not in columns:
            raise GreentuneError(
                f"{origin} has no column '{column}' (it has {', '.join(columns)}); "
                "set data.source_column / data.target_column"
            )
