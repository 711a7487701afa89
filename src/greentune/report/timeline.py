"""A run's power and utilisation over time, read back from its meter log (meter.jsonl).

Power comes from the cumulative energy counters of consecutive `sample`
records (ΔJ ÷ Δs), so every component — measured counter or estimated model —
is drawn the same way and the area under each step curve is the energy the
meter counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from greentune.errors import GreentuneError

METER_LOG = "meter.jsonl"
WHOLE_RUN_WINDOWS = {"run"}


class Timeline(BaseModel):
    """Samples on one time axis: seconds since the first sample, watts per component, % per device.

    A component missing from a sample has None there (a gap in the plot).
    """

    t_s: list[float]
    power_w: dict[str, list[float | None]]
    utilisation_pct: dict[str, list[float | None]]
    windows: list[tuple[str, float, float]] = Field(
        default_factory=list,
        description="closed meter windows as (name, start s, end s); whole-run and per-epoch windows left out",
    )


def read_timeline(artifact_dir: str | None) -> Timeline | None:
    """The timeline in `artifact_dir`/meter.jsonl; None when there is no log or it holds under two samples."""
    from greentune.meter import read_log

    if artifact_dir is None or not (Path(artifact_dir) / METER_LOG).is_file():
        return None
    try:
        records = read_log(Path(artifact_dir) / METER_LOG)
    except GreentuneError:
        return None
    return timeline_from_log(records)


def timeline_from_log(records: list[dict[str, Any]]) -> Timeline | None:
    """Average power and utilisation over each interval between consecutive samples, drawn as steps
    (the interval's start and end carry its value); a new `meter_start` restarts the counters."""
    points: list[tuple[float, dict[str, float], dict[str, float]]] = []
    windows: list[tuple[str, float, float]] = []
    previous: dict[str, Any] | None = None
    start_s: float | None = None
    for record in records:
        kind = record.get("type")
        if kind == "meter_start":
            previous = None
        elif kind == "sample":
            start_s = record["t_unix_s"] if start_s is None else start_s
            if previous is not None and record["t_unix_s"] > previous["t_unix_s"]:
                power, util = _power(previous, record), _utilisation(record)
                points += [(previous["t_unix_s"], power, util), (record["t_unix_s"], power, util)]
            previous = record
        elif kind == "window" and record["name"] not in WHOLE_RUN_WINDOWS and not record["name"].startswith("epoch"):
            windows.append((record["name"], record["start_unix_s"], record["start_unix_s"] + record["duration_s"]))
    if not points or start_s is None:
        return None
    power_names = sorted({name for _, power, _ in points for name in power})
    util_names = sorted({name for _, _, util in points for name in util})
    return Timeline(
        t_s=[t - start_s for t, _, _ in points],
        power_w={name: [power.get(name) for _, power, _ in points] for name in power_names},
        utilisation_pct={name: [util.get(name) for _, _, util in points] for name in util_names},
        windows=[(name, begin - start_s, end - start_s) for name, begin, end in windows],
    )


def _power(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    elapsed_s = after["t_unix_s"] - before["t_unix_s"]
    start_j = before.get("energy_j", {})
    return {
        name: (energy_j - start_j[name]) / elapsed_s
        for name, energy_j in after.get("energy_j", {}).items()
        if name in start_j and energy_j >= start_j[name]
    }


def _utilisation(sample: dict[str, Any]) -> dict[str, float]:
    util = dict(sample.get("gpu_util_pct") or {})
    if sample.get("cpu_util_pct") is not None:
        util["cpu"] = sample["cpu_util_pct"]
    return util
