"""`--replicas N`: the same `Batcher` as a Ray Serve deployment, one batcher and one meter per replica.

The FastAPI app stays in the `greentune serve` process and sends each request
to the deployment through a Ray Serve handle (Ray routes it to a replica).
Each replica loads the model, meters its own device (CPU and RAM in
``process`` scope, so replicas sharing a machine never count each other's
work; its GPU where it has one) and pushes its `Snapshot` to a small board
actor every second and once more when it drains at shutdown; /stats and
/metrics add the replicas' snapshots up (one Prometheus series per replica).
Ray is started as for sweeps: ``ray.init(num_cpus=2, include_dashboard=False)``
unless already running; Serve's own HTTP proxy is off.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greentune.serve.batcher import BatcherConfig, Closed, InputTooLong, QueueFull, RequestResult
from greentune.serve.engine import EngineInfo
from greentune.serve.snapshot import Snapshot

if TYPE_CHECKING:
    from greentune.carbon.intensity import Site
    from greentune.infer.summarizer import Summarizer
    from greentune.meter import Meter
    from greentune.serve.server import ServeRequest

APP_NAME = "greentune-serve"
PUSH_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Rejection:
    """A refusal crossing from a replica to the app: which error, its message, and Retry-After."""

    kind: str
    message: str
    retry_after_s: int = 1

    def raise_it(self) -> None:
        """Raise the batcher's error this stands for."""
        if self.kind == "too_long":
            raise InputTooLong(self.message)
        if self.kind == "full":
            raise QueueFull(self.retry_after_s)
        raise Closed(self.message)


# Builds a replica's summarizer and meter (called inside the replica); a plain function so that Ray can ship it.
ReplicaParts = Callable[[str], "tuple[Summarizer, Meter]"]


class SnapshotBoard:
    """Ray actor holding each replica's latest snapshot."""

    def __init__(self) -> None:
        self._snapshots: dict[str, Snapshot] = {}

    def report(self, replica: str, snapshot: Snapshot) -> None:
        """Keep `replica`'s latest snapshot."""
        self._snapshots[replica] = snapshot

    def snapshots(self) -> list[Snapshot]:
        """Every replica's latest snapshot, in replica-name order."""
        return [self._snapshots[key] for key in sorted(self._snapshots)]


class SummarizerReplica:
    """One Ray Serve replica: a batcher over its own summarizer and meter."""

    def __init__(self, parts: ReplicaParts, site: Site, config: BatcherConfig, board: Any) -> None:
        from ray import serve

        from greentune.serve.batcher import Batcher

        self._name = serve.get_replica_context().replica_id.unique_id
        summarizer, meter = parts(self._name)
        self._batcher = Batcher(summarizer, meter, site, config).start()
        self._board = board
        self._stop = threading.Event()
        self._pusher = threading.Thread(target=self._push_every_second, daemon=True)
        self._pusher.start()

    async def summarize(self, texts: Sequence[str]) -> list[RequestResult] | Rejection:
        """Admit and answer `texts`, or say why not."""
        try:
            futures = self._batcher.submit(list(texts))
        except InputTooLong as error:
            return Rejection("too_long", str(error))
        except QueueFull as error:
            return Rejection("full", str(error), error.retry_after_s)
        except Closed as error:
            return Rejection("closed", str(error))
        return list(await asyncio.gather(*(asyncio.wrap_future(future) for future in futures)))

    def _push_every_second(self) -> None:
        while not self._stop.wait(PUSH_INTERVAL_S):
            self._board.report.remote(self._name, self._batcher.snapshot())

    def __del__(self) -> None:
        """Serve's graceful shutdown: drain, stop the meter, push the final totals."""
        import ray

        self._stop.set()
        self._batcher.close()
        ray.get(self._board.report.remote(self._name, self._batcher.snapshot()))


class RayEngine:
    """The app's `Engine` over the deployment's replicas."""

    def __init__(self, handle: Any, board: Any, info: EngineInfo) -> None:
        """Send requests through `handle`; read totals from `board`."""
        self.handle = handle
        self.board = board
        self.info = info
        self._final: list[Snapshot] | None = None

    async def summarize(self, texts: Sequence[str]) -> list[RequestResult]:
        """Route `texts` to a replica; its refusal is raised here as the batcher's error."""
        answer = await self.handle.summarize.remote(list(texts))
        if isinstance(answer, Rejection):
            answer.raise_it()
        return list(answer)

    def snapshots(self) -> list[Snapshot]:
        """The replicas' latest totals (at most a second old while serving; final after `close`)."""
        import ray

        if self._final is not None:
            return self._final
        return list(ray.get(self.board.snapshots.remote()))

    def close(self) -> None:
        """Delete the deployment (each replica drains and reports), keep the final totals, stop Ray Serve."""
        if self._final is not None:
            return
        import ray
        from ray import serve

        serve.delete(APP_NAME)
        self._final = list(ray.get(self.board.snapshots.remote()))
        serve.shutdown()


def start_replicas(
    parts: ReplicaParts, site: Site, config: BatcherConfig, replicas: int, info: EngineInfo
) -> RayEngine:
    """Start Ray (if needed), the board and `replicas` replicas; returns the engine."""
    import ray
    from ray import serve

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    serve.start(proxy_location="Disabled")
    board = ray.remote(num_cpus=0)(SnapshotBoard).remote()
    deployment = serve.deployment(
        SummarizerReplica,
        name="summarizer",
        num_replicas=replicas,
        max_ongoing_requests=config.queue_size + config.max_batch,
        ray_actor_options={"num_cpus": 2 / replicas},
    )
    handle = serve.run(
        deployment.bind(parts, site, config, board),  # type: ignore[attr-defined]
        name=APP_NAME,
        route_prefix=None,
    )
    return RayEngine(handle, board, info)


@dataclass(frozen=True)
class _ModelParts:
    """Load the served model and a process-scope meter, logging to one file per replica."""

    source: str
    backend: str
    settings: Any
    device: str
    log_dir: str

    def __call__(self, replica: str) -> tuple[Summarizer, Meter]:
        from greentune.infer import Backend, load_summarizer
        from greentune.meter import Meter, Scope

        summarizer = load_summarizer(self.source, Backend(self.backend), self.settings, self.device)
        log_path = Path(self.log_dir) / f"meter-replica-{replica}.jsonl"
        return summarizer, Meter(log_path=log_path, scope=Scope.PROCESS, keep_measurements=1_000)


def ray_engine(request: ServeRequest, artifact_dir: Path) -> RayEngine:
    """The engine `greentune serve --replicas N` serves from."""
    parts = _ModelParts(
        request.served.source, str(request.backend), request.settings, request.device, str(artifact_dir.resolve())
    )
    info = EngineInfo(
        request.served.label, str(request.backend), request.device, request.settings, replicas=request.replicas
    )
    return start_replicas(parts, request.site, request.batching, request.replicas, info)
