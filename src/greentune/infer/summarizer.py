"""The `Summarizer` interface that serving and the inference benchmark share, and `load_summarizer`.

A summarizer turns a batch of texts into summaries and says how many tokens
each took in and out (the work that serving attributes energy by). Each
backend lives in its own module (`eager`, and later `int8`, `onnx`, `ct2`);
`load_summarizer` picks one by `Backend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from greentune.errors import GreentuneError


class Backend(StrEnum):
    """What runs the model."""

    EAGER = "eager"
    INT8 = "int8"
    ONNX = "onnx"
    CT2 = "ct2"


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings and the input cut-off."""

    num_beams: int = 1
    max_new_tokens: int = 64
    max_input_tokens: int = 512


@dataclass(frozen=True)
class Summary:
    """One summary and the tokens it took in and produced."""

    text: str
    input_tokens: int
    output_tokens: int


class Summarizer(Protocol):
    """A loaded model that summarizes batches of texts."""

    backend: Backend
    device: str
    settings: GenerationSettings

    def count_input_tokens(self, text: str) -> int:
        """Tokens of `text` before truncation (for input limits and attribution)."""
        ...

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        """Summaries of `texts`, in order, generated as one batch."""
        ...


def load_summarizer(
    model: str, backend: Backend = Backend.EAGER, settings: GenerationSettings | None = None, device: str = "cpu"
) -> Summarizer:
    """Load `model` (the built-in `minilm-bert2bert`, a local folder or a Hub name) on `backend`."""
    chosen = settings or GenerationSettings()
    if backend is Backend.EAGER:
        from greentune.infer.eager import EagerSummarizer

        return EagerSummarizer.load(model, chosen, device)
    raise GreentuneError(f"backend '{backend}' is not available yet; use --backend eager")
