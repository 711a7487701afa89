"""Flexible Start (Dodge et al. 2022): delay the whole job to the cleanest start in the window.

Exact: every start on the series' grid in [t0, t0 + W] is scored as
Σ_i energy_i × I(s + i) in one correlation, and the lowest wins (ties: the
earliest).
"""

from __future__ import annotations

import numpy as np

from greentune.carbon import IntensitySeries
from greentune.schedule.job import Job
from greentune.schedule.plans import Mode, Plan
from greentune.schedule.window import JobWindow


def best_start(intensity: np.ndarray, energies_kwh: np.ndarray, start_count: int) -> int:
    """Start index in [0, start_count) minimising Σ_i energies_kwh[i] × intensity[s + i]."""
    span = intensity[: start_count - 1 + len(energies_kwh)]
    return int(np.argmin(np.correlate(span, energies_kwh, mode="valid")))


def flexible_start(series: IntensitySeries, job: Job, *, pue: float = 1.0) -> Plan:
    """Plan `job` as one uninterrupted run starting at the cleanest time in its window."""
    window = JobWindow.build(series, job)
    start = best_start(window.intensity, window.energies_kwh, window.start_count)
    return window.plan(Mode.FS, range(start, start + window.slot_count), pue=pue)
