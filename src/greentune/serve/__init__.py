"""greentune.serve: an endpoint that meters every request (FastAPI, Prometheus, Gradio, Ray Serve replicas).

`Batcher` (bounded queue, dynamic batches, per-request attribution) is a plain
class; `app.create_app` puts FastAPI routes on an `Engine` (one local
batcher, or Ray Serve replicas each with its own batcher and meter).
Web and Ray modules are imported only where used.
"""

from greentune.serve.batcher import Batcher, BatcherConfig, Closed, InputTooLong, QueueFull, RequestResult
from greentune.serve.snapshot import Snapshot

__all__ = ["Batcher", "BatcherConfig", "Closed", "InputTooLong", "QueueFull", "RequestResult", "Snapshot"]
