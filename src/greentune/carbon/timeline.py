"""Operational emissions of a job's own energy timeline against an intensity series.

E_op = PUE × Σ_i energy_i × I(t_i): each interval's energy is spread evenly
over its span and split at the series' slot boundaries, so a job that ran
through a clean night and a dirty morning is charged for each part at its own
intensity, not at a daily mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from greentune.carbon.series import IntensitySeries, Kind, require_aware
from greentune.errors import GreentuneError

Interval = tuple[datetime, datetime, float]  # (start, end, energy_kwh)


@dataclass(frozen=True)
class TimelineEmissions:
    """Emissions of a metered timeline: `energy_kwh` (IT energy, before PUE),
    `emissions_gco2eq` (after PUE), `mean_intensity_gco2eq_per_kwh` (energy-weighted),
    `pue`, and the series' `source`, `kind` and `region`."""

    energy_kwh: float
    emissions_gco2eq: float
    mean_intensity_gco2eq_per_kwh: float
    pue: float
    source: str
    kind: Kind
    region: str


def intervals_from_power(times: Sequence[datetime], power_w: Sequence[float]) -> list[Interval]:
    """Power samples (W) at `times` → energy intervals, by the trapezoidal rule."""
    if len(times) != len(power_w) or len(times) < 2:
        raise GreentuneError("a power timeline needs at least two (time, power) samples of equal count")
    intervals = []
    for (t0, p0), (t1, p1) in zip(
        zip(times, power_w, strict=False), zip(times[1:], power_w[1:], strict=False), strict=False
    ):
        hours = (require_aware(t1, "sample").timestamp() - require_aware(t0, "sample").timestamp()) / 3600
        if hours <= 0 or p0 < 0 or p1 < 0:
            raise GreentuneError("power samples must be in time order with non-negative power")
        intervals.append((t0, t1, (p0 + p1) / 2 * hours / 1000))
    return intervals


def timeline_emissions(
    intervals: Iterable[Interval], series: IntensitySeries, *, pue: float = 1.0
) -> TimelineEmissions:
    """Integrate (start, end, energy_kwh) intervals against `series`, times `pue`."""
    if not pue >= 1.0:
        raise GreentuneError(f"PUE must be at least 1.0, got {pue}")
    energy_kwh = emissions_g = 0.0
    for start, end, interval_kwh in intervals:
        if interval_kwh < 0 or end < start:
            raise GreentuneError(
                f"interval {start.isoformat()}–{end.isoformat()} has negative energy or ends before it starts"
            )
        if end > start:
            values = series.values_between(start, end)
            first_edge_s = series.slot_start(series.slot_of(start)).timestamp() - start.timestamp()
            edges_s = first_edge_s + series.step_s * np.arange(len(values) + 1)
            span_s = end.timestamp() - start.timestamp()
            weights = (np.clip(edges_s[1:], 0, span_s) - np.clip(edges_s[:-1], 0, span_s)) / span_s
        else:
            values, weights = series.values_between(start, start + series.step)[:1], np.ones(1)
        energy_kwh += interval_kwh
        emissions_g += interval_kwh * float(weights @ values)
    mean = emissions_g / energy_kwh if energy_kwh > 0 else 0.0
    return TimelineEmissions(
        energy_kwh=energy_kwh,
        emissions_gco2eq=emissions_g * pue,
        mean_intensity_gco2eq_per_kwh=mean,
        pue=pue,
        source=series.source,
        kind=series.kind,
        region=series.region,
    )
