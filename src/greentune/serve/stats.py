"""`RequestLog`: the recent answered texts, and the /stats figures built from it and the engine's totals."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence

from pydantic import BaseModel

from greentune.serve.batcher import RequestResult
from greentune.serve.snapshot import Snapshot

RECENT_REQUESTS = 10_000
JOULES_PER_WH = 3600.0


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` in (0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class RequestLog:
    """Energy and latency of the last `RECENT_REQUESTS` answered texts (bounded memory), thread-safe."""

    def __init__(self, size: int = RECENT_REQUESTS) -> None:
        """Keep at most `size` texts."""
        self._energy_j: deque[float] = deque(maxlen=size)
        self._latency_ms: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, results: Sequence[RequestResult]) -> None:
        """Record answered texts."""
        with self._lock:
            self._energy_j.extend(result.energy_j for result in results)
            self._latency_ms.extend(result.latency_ms for result in results)

    def recent(self) -> tuple[list[float], list[float]]:
        """Copies of the recent energies (J) and latencies (ms)."""
        with self._lock:
            return list(self._energy_j), list(self._latency_ms)


class Stats(BaseModel):
    """GET /stats: totals over the session; percentiles over the last 10,000 answered texts."""

    requests: int
    failed: int
    batches: int
    input_tokens: int
    output_tokens: int
    energy_j_per_request_mean: float | None
    energy_j_per_request_p50: float | None
    energy_j_per_request_p95: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    wh_per_1000_requests: float | None
    gco2eq_per_1000_requests: float | None
    active_energy_j: float
    idle_energy_j: float
    active_energy_j_by_component: dict[str, float]
    idle_energy_j_by_component: dict[str, float]
    active_gco2eq: float
    idle_gco2eq: float
    active_usd: float | None
    idle_usd: float | None
    active_duration_s: float
    idle_duration_s: float
    session_duration_s: float
    queue_depth: int
    in_flight: int
    replicas: int
    source: str


def build_stats(total: Snapshot, log: RequestLog) -> Stats:
    """The /stats figures: per-request means and per-1,000 figures from the totals (active energy only)."""
    energies_j, latencies_ms = log.recent()
    per_request = total.requests > 0
    return Stats(
        requests=total.requests,
        failed=total.failed,
        batches=total.batches,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        energy_j_per_request_mean=total.active_j / total.requests if per_request else None,
        energy_j_per_request_p50=percentile(energies_j, 0.5),
        energy_j_per_request_p95=percentile(energies_j, 0.95),
        latency_ms_p50=percentile(latencies_ms, 0.5),
        latency_ms_p95=percentile(latencies_ms, 0.95),
        wh_per_1000_requests=total.active_j / JOULES_PER_WH / total.requests * 1000 if per_request else None,
        gco2eq_per_1000_requests=total.active_gco2eq / total.requests * 1000 if per_request else None,
        active_energy_j=total.active_j,
        idle_energy_j=total.idle_j,
        active_energy_j_by_component=total.active_energy_j,
        idle_energy_j_by_component=total.idle_energy_j,
        active_gco2eq=total.active_gco2eq,
        idle_gco2eq=total.idle_gco2eq,
        active_usd=total.active_usd,
        idle_usd=total.idle_usd,
        active_duration_s=total.active_duration_s,
        idle_duration_s=total.idle_duration_s,
        session_duration_s=total.session_duration_s,
        queue_depth=total.queue_depth,
        in_flight=total.in_flight,
        replicas=total.replicas,
        source=total.source,
    )
