"""`Snapshot`: one batcher's running totals, and `combine` to add up replicas.

Every field is additive across replicas (each replica meters its own device),
except the session duration, which is the longest replica's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from greentune.meter.measurement import JOULES_PER_KWH


@dataclass(frozen=True)
class Snapshot:
    """Totals of a serving session so far.

    Attributes:
        requests: texts answered with a summary.
        failed: texts whose batch raised an error.
        batches: batches run (each one meter window).
        input_tokens: input tokens of the answered texts.
        output_tokens: output tokens of the answered texts.
        active_energy_j: energy inside batch windows, joules, per component (``cpu``, ``gpu:0``, ...).
        idle_energy_j: energy between batch windows, joules, per component.
        component_sources: ``measured`` or ``estimated`` per component.
        active_duration_s: seconds inside batch windows.
        idle_duration_s: seconds inside idle windows (between batches).
        session_duration_s: seconds since the meter started.
        active_gco2eq: operational emissions of the active energy (× PUE × intensity), grams CO2eq.
        idle_gco2eq: the same for the idle energy.
        active_usd: price of the active time, USD; None when the site has no price.
        idle_usd: price of the idle time, USD; None when the site has no price.
        queue_depth: texts waiting for a batch now.
        in_flight: texts in the batch running now.
        replicas: how many batchers these totals add up.
    """

    requests: int = 0
    failed: int = 0
    batches: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    active_energy_j: dict[str, float] = field(default_factory=dict)
    idle_energy_j: dict[str, float] = field(default_factory=dict)
    component_sources: dict[str, str] = field(default_factory=dict)
    active_duration_s: float = 0.0
    idle_duration_s: float = 0.0
    session_duration_s: float = 0.0
    active_gco2eq: float = 0.0
    idle_gco2eq: float = 0.0
    active_usd: float | None = None
    idle_usd: float | None = None
    queue_depth: int = 0
    in_flight: int = 0
    replicas: int = 1

    @property
    def active_j(self) -> float:
        """Energy of every batch window, joules."""
        return sum(self.active_energy_j.values())

    @property
    def idle_j(self) -> float:
        """Energy between batch windows, joules."""
        return sum(self.idle_energy_j.values())

    @property
    def active_kwh(self) -> float:
        """Energy of every batch window, kWh."""
        return self.active_j / JOULES_PER_KWH

    @property
    def idle_kwh(self) -> float:
        """Energy between batch windows, kWh."""
        return self.idle_j / JOULES_PER_KWH

    @property
    def source(self) -> str:
        """``measured`` only when every component was measured."""
        sources = set(self.component_sources.values())
        return "measured" if sources == {"measured"} else "estimated"


def _add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: a.get(key, 0.0) + b.get(key, 0.0) for key in {*a, *b}}


def _add_usd(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def combine(snapshots: Sequence[Snapshot]) -> Snapshot:
    """The totals of several replicas (an empty list gives an empty snapshot with 0 replicas)."""
    if not snapshots:
        return Snapshot(replicas=0)
    total = snapshots[0]
    for other in snapshots[1:]:
        total = Snapshot(
            requests=total.requests + other.requests,
            failed=total.failed + other.failed,
            batches=total.batches + other.batches,
            input_tokens=total.input_tokens + other.input_tokens,
            output_tokens=total.output_tokens + other.output_tokens,
            active_energy_j=_add(total.active_energy_j, other.active_energy_j),
            idle_energy_j=_add(total.idle_energy_j, other.idle_energy_j),
            component_sources={**total.component_sources, **other.component_sources},
            active_duration_s=total.active_duration_s + other.active_duration_s,
            idle_duration_s=total.idle_duration_s + other.idle_duration_s,
            session_duration_s=max(total.session_duration_s, other.session_duration_s),
            active_gco2eq=total.active_gco2eq + other.active_gco2eq,
            idle_gco2eq=total.idle_gco2eq + other.idle_gco2eq,
            active_usd=_add_usd(total.active_usd, other.active_usd),
            idle_usd=_add_usd(total.idle_usd, other.idle_usd),
            queue_depth=total.queue_depth + other.queue_depth,
            in_flight=total.in_flight + other.in_flight,
            replicas=total.replicas + other.replicas,
        )
    return total
