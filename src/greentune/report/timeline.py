"""A run's power and utilisation over time, read back from its meter log (meter.jsonl)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

METER_LOG = "meter.jsonl"


class Timeline(BaseModel):
    """Samples on one time axis: seconds since the first sample, watts per component, % per device."""

    t_s: list[float]
    power_w: dict[str, list[float]]
    utilisation_pct: dict[str, list[float]]


def read_timeline(artifact_dir: str | None) -> Timeline | None:
    """The timeline in `artifact_dir`/meter.jsonl, or None when the run left no samples."""
    if artifact_dir is None or not (Path(artifact_dir) / METER_LOG).is_file():
        return None
    raise NotImplementedError
