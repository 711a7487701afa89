"""The `Summarizer` interface that serving and the inference benchmark share, and `load_summarizer`.

A summarizer turns a batch of texts into summaries and says how many tokens
each took in and out (the work that serving attributes energy by). Each
backend lives in its own module (`eager`, `int8`, `onnx`, `ct2`), with the
precisions it runs at on each device beside it; `load_summarizer` resolves the
model name (`greentune.models`) and picks the backend. A backend that cannot
run a model, precision or device raises `UnsupportedConfiguration`, whose
one-line `reason` the benchmark prints in its table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from greentune.errors import GreentuneError


class Backend(StrEnum):
    """What runs the model."""

    EAGER = "eager"
    INT8 = "int8"
    ONNX = "onnx"
    CT2 = "ct2"


class Precision(StrEnum):
    """Number format of weights and arithmetic; `default` is the backend's own (fp32, or int8 for `int8`)."""

    DEFAULT = "default"
    FP32 = "fp32"
    FP16 = "fp16"
    BF16 = "bf16"
    INT8 = "int8"
    INT8_FP32 = "int8_fp32"
    INT8_FP16 = "int8_fp16"


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings, the input cut-off and the precision the backend runs at."""

    num_beams: int = 1
    max_new_tokens: int = 64
    max_input_tokens: int = 512
    precision: Precision = Precision.DEFAULT


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


class TokenCounting:
    """`count_input_tokens` for a backend whose Hugging Face tokenizer is its ``tokenizer`` attribute."""

    tokenizer: Any

    def count_input_tokens(self, text: str) -> int:
        """Tokens of `text` before truncation, special tokens included."""
        return len(self.tokenizer(text, truncation=False)["input_ids"])


class UnsupportedConfiguration(GreentuneError):
    """A backend cannot run this model, precision or device; `reason` says why in one line."""

    def __init__(self, backend: Backend, reason: str) -> None:
        super().__init__(f"backend '{backend}' cannot run this: {reason}")
        self.backend = backend
        self.reason = reason


def device_kind(device: str) -> str:
    """'cuda' for 'cuda' or 'cuda:N', else the device string itself ('cpu')."""
    return "cuda" if device.startswith("cuda") else device


def resolved_precision(
    backend: Backend, settings: GenerationSettings, device: str, supported: dict[str, tuple[Precision, ...]]
) -> Precision:
    """The settings' precision (the device's first supported one for `default`), or `UnsupportedConfiguration`."""
    allowed = supported.get(device_kind(device), ())
    if not allowed:
        raise UnsupportedConfiguration(backend, f"no {device_kind(device)} support")
    precision = allowed[0] if settings.precision is Precision.DEFAULT else settings.precision
    if precision not in allowed:
        raise UnsupportedConfiguration(
            backend, f"{precision} on {device_kind(device)} is not supported (use {', '.join(allowed)})"
        )
    return precision


def load_summarizer(
    model: str, backend: Backend = Backend.EAGER, settings: GenerationSettings | None = None, device: str = "cpu"
) -> Summarizer:
    """Load `model` on `backend`: the built-in `minilm-bert2bert`, a folder, a ledger run (id or name) or a Hub name.

    Raises `UnsupportedConfiguration` (a `GreentuneError`) when the backend cannot run it.
    """
    from greentune.models import resolve_model

    chosen = settings or GenerationSettings()
    if chosen.num_beams < 1 or chosen.max_new_tokens < 1 or chosen.max_input_tokens < 1:
        raise GreentuneError("num_beams, max_new_tokens and max_input_tokens must be whole numbers ≥ 1")
    if device_kind(device) not in ("cpu", "cuda"):
        raise GreentuneError(f"device must be 'cpu', 'cuda' or 'cuda:N', got '{device}'")
    source = resolve_model(model).location
    if backend is Backend.EAGER:
        from greentune.infer.eager import EagerSummarizer

        return EagerSummarizer.load(source, chosen, device)
    if backend is Backend.INT8:
        from greentune.infer.int8 import load_int8

        return load_int8(source, chosen, device)
    if backend is Backend.ONNX:
        from greentune.infer.onnx import OnnxSummarizer

        return OnnxSummarizer.load(source, chosen, device)
    from greentune.infer.ct2 import Ct2Summarizer

    return Ct2Summarizer.load(source, chosen, device)
