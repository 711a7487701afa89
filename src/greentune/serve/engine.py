"""`Engine`: what the web app serves from — one local `Batcher`, or Ray Serve replicas (`ray_deployment`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from greentune.infer.summarizer import GenerationSettings
from greentune.serve.batcher import Batcher, RequestResult
from greentune.serve.snapshot import Snapshot


@dataclass(frozen=True)
class EngineInfo:
    """What is being served, for /health and the session record."""

    model: str
    backend: str
    device: str
    settings: GenerationSettings
    replicas: int


class Engine(Protocol):
    """Summarizes texts through batchers and reports their totals."""

    info: EngineInfo

    async def summarize(self, texts: Sequence[str]) -> list[RequestResult]:
        """One result per text; raises `InputTooLong`, `QueueFull` or `Closed` from the batcher."""
        ...

    def snapshots(self) -> list[Snapshot]:
        """One snapshot per replica."""
        ...

    def close(self) -> None:
        """Drain every admitted text and stop metering."""
        ...


class LocalEngine:
    """One batcher in this process."""

    def __init__(self, batcher: Batcher, info: EngineInfo) -> None:
        """Serve from `batcher` (already started)."""
        self.batcher = batcher
        self.info = info

    async def summarize(self, texts: Sequence[str]) -> list[RequestResult]:
        """Admit `texts` (tokenizing off the event loop) and await their batches.

        Cancelling (a timeout) cancels the texts whose batch has not started, so they are never run.
        """
        futures = await run_in_threadpool(self.batcher.submit, list(texts))
        return list(await asyncio.gather(*(asyncio.wrap_future(future) for future in futures)))

    def snapshots(self) -> list[Snapshot]:
        """This batcher's totals."""
        return [self.batcher.snapshot()]

    def close(self) -> None:
        """Drain and stop the batcher."""
        self.batcher.close()
