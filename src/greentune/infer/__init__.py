"""greentune.infer: one `Summarizer` interface over inference backends (torch and friends load lazily)."""

from greentune.infer.summarizer import (
    Backend,
    GenerationSettings,
    Precision,
    Summarizer,
    Summary,
    UnsupportedConfiguration,
    load_summarizer,
)

__all__ = [
    "Backend",
    "GenerationSettings",
    "Precision",
    "Summarizer",
    "Summary",
    "UnsupportedConfiguration",
    "load_summarizer",
]
