"""`BenchRow`: one configuration of the inference benchmark and what it measured (or why it could not run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from greentune.infer.summarizer import Backend, Precision


class Split(StrEnum):
    """Which split of the data set is summarized."""

    VALIDATION = "validation"
    TEST = "test"


@dataclass(frozen=True)
class BenchConfig:
    """What runs: backend at a precision, batch size, beams, device."""

    backend: Backend
    precision: Precision
    batch_size: int
    num_beams: int
    device: str

    @property
    def label(self) -> str:
        """e.g. 'onnx/int8 batch 16 beams 1 cpu'."""
        return f"{self.backend}/{self.precision} batch {self.batch_size} beams {self.num_beams} {self.device}"

    def same_workload(self, other: BenchConfig) -> bool:
        """Same batch size, beams and device (so the same padded inputs and search)."""
        return (self.batch_size, self.num_beams, self.device) == (other.batch_size, other.num_beams, other.device)


@dataclass(frozen=True)
class BenchRow:
    """One configuration. Energies in J and Wh, latencies in ms per generate call, ROUGE in points.

    `reason` is set (and the figures are None) when the configuration could not
    run; deltas are against the eager fp32 reference of the same workload.
    """

    config: BenchConfig
    reason: str | None = None
    summaries: int = 0
    duration_s: float | None = None
    energy_j: float | None = None
    j_per_summary: float | None = None
    wh_per_1000: float | None = None
    summaries_per_s: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    peak_ram_bytes: int | None = None
    peak_vram_bytes: int | None = None
    rouge1: float | None = None
    rouge2: float | None = None
    rougeL: float | None = None
    rouge1_delta: float | None = None
    rouge2_delta: float | None = None
    rougeL_delta: float | None = None
    exact_match_share: float | None = None
    energy_source: str | None = None
    is_reference: bool = False
    run_id: str | None = None

    @property
    def supported(self) -> bool:
        """True when the configuration ran."""
        return self.reason is None

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict: the configuration's fields first, then the figures."""
        figures = asdict(self)
        config = figures.pop("config")
        return {**{key: str(value) for key, value in config.items()}, **figures} | {
            "batch_size": self.config.batch_size,
            "num_beams": self.config.num_beams,
        }
