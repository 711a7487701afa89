"""`run_server(request)`: load the model, meter it, serve it with uvicorn until SIGTERM/Ctrl-C, record the session.

Shutdown: uvicorn stops accepting connections at SIGTERM or Ctrl-C and waits
for every open request; the app's lifespan then drains the engine (every
admitted text answered) and stops the meters; only then is the session
written to the ledger. The signal uvicorn re-raises after it has stopped
lands on a handler of ours that only notes it, so the record is always written.
"""

from __future__ import annotations

import errno
import signal
import socket
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from greentune.carbon.intensity import Site
from greentune.errors import GreentuneError
from greentune.infer.summarizer import Backend, GenerationSettings
from greentune.ledger import RunRecord, check_ledger
from greentune.meter import Scope
from greentune.paths import OWNED_MARKER, home_for, make_owned_dir, remove_owned_dir, slug
from greentune.serve.batcher import BatcherConfig
from greentune.serve.engine import Engine, EngineInfo
from greentune.serve.model import ServedModel
from greentune.serve.session import SessionRequest, write_session
from greentune.serve.snapshot import combine
from greentune.serve.stats import build_stats

METER_KEEP_WINDOWS = 1_000  # two windows per batch for the server's life: keep memory bounded (the log has them all)


@dataclass(frozen=True)
class ServeRequest:
    """Everything `greentune serve` was asked for, validated."""

    served: ServedModel
    backend: Backend
    device: str
    settings: GenerationSettings
    batching: BatcherConfig
    site: Site
    host: str = "127.0.0.1"
    port: int = 8000
    timeout_s: float = 60.0
    ui: bool = False
    replicas: int = 1
    scope: Scope = Scope.MACHINE
    experiment: str = "greentune-serve"
    run_name: str | None = None
    tracking_uri: str | None = None
    runs_dir: Path | None = None  # None: `serve/` beside the ledger (greentune.paths.home_for)


def _remove_if_unused(folder: Path, home: Path) -> None:
    """Remove a session folder that holds only greentune's marker: its model never loaded, nothing was served."""
    if [entry.name for entry in folder.iterdir()] == [OWNED_MARKER]:
        remove_owned_dir(folder, home)


def check_port_free(host: str, port: int) -> None:
    """Fail in one line, before the model loads, when `host:port` cannot be bound."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror})"
            raise GreentuneError(f"{host}:{port} {reason}; pass another --port or --host") from None


def _local_engine(request: ServeRequest, artifact_dir: Path) -> Engine:
    from greentune.infer import load_summarizer
    from greentune.meter import Meter
    from greentune.serve.batcher import Batcher
    from greentune.serve.engine import LocalEngine

    summarizer = load_summarizer(request.served.source, request.backend, request.settings, request.device)
    meter = Meter(log_path=artifact_dir / "meter.jsonl", scope=request.scope, keep_measurements=METER_KEEP_WINDOWS)
    batcher = Batcher(summarizer, meter, request.site, request.batching).start()
    info = EngineInfo(request.served.label, str(request.backend), request.device, request.settings, replicas=1)
    return LocalEngine(batcher, info)


def _gpu_name(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return str(torch.cuda.get_device_name(torch.device(device)))


def run_server(
    request: ServeRequest,
    on_ready: Callable[[str], None] = print,
    loading: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> RunRecord:
    """Serve until SIGTERM or Ctrl-C, then drain and write the session record; returns the stored record.

    `on_ready` gets the line that says where it listens; `loading()` is shown while the model loads.
    """
    import uvicorn

    from greentune.serve.app import AppOptions, create_app

    check_port_free(request.host, request.port)
    uri = check_ledger(request.tracking_uri)  # the session is recorded at shutdown: a broken ledger fails now
    started = datetime.now(UTC)
    run_name = request.run_name or f"serve-{Path(request.served.label).name}-{started:%Y%m%dT%H%M%S}"
    runs_dir = request.runs_dir or home_for(uri) / "serve"
    artifact_dir = make_owned_dir(runs_dir / f"{started:%Y%m%dT%H%M%S}-{slug(run_name)}-{uuid.uuid4().hex[:6]}")
    engine: Engine
    try:
        with loading():
            if request.replicas > 1:
                from greentune.serve.ray_deployment import ray_engine

                engine = ray_engine(request, artifact_dir)
            else:
                engine = _local_engine(request, artifact_dir)
    except BaseException:
        _remove_if_unused(artifact_dir, runs_dir)
        raise
    app = create_app(engine, AppOptions(timeout_s=request.timeout_s, ui=request.ui))
    config = uvicorn.Config(app, host=request.host, port=request.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        on_ready(f"serving {request.served.label} on http://{request.host}:{request.port} (POST /summarize)")
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        engine.close()  # idempotent: the lifespan has drained it already unless startup failed
    if not server.started:
        raise GreentuneError(f"the server on {request.host}:{request.port} did not start; see the log above")
    total = combine(engine.snapshots())
    stats = build_stats(total, app.state.log)
    session = SessionRequest(
        info=engine.info,
        served=request.served,
        site=request.site,
        config=request.batching,
        started=started,
        experiment=request.experiment,
        run_name=run_name,
        tracking_uri=request.tracking_uri,
        artifact_dir=artifact_dir,
    )
    return write_session(session, total, stats, _gpu_name(request.device))
