"""The FastAPI app: POST /summarize, GET /health, /stats, /metrics, and the Gradio page at /ui.

Bad input never gets a 5xx: a malformed body is 422 (FastAPI's validation),
a text over the token limit or more texts than the queue holds 413, a full
queue 429 with Retry-After, generation past the timeout 504, a server that is
shutting down 503. The app's lifespan ends by draining the engine: every
admitted text is answered before the process exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from greentune.serve.batcher import Closed, InputTooLong, QueueFull, RequestResult
from greentune.serve.engine import Engine
from greentune.serve.metrics import ServeMetrics
from greentune.serve.snapshot import combine
from greentune.serve.stats import RequestLog, Stats, build_stats

Text = Annotated[str, Field(description="a document to summarize")]


class SummarizeRequest(BaseModel):
    """One text, or a list of texts batched as they come."""

    model_config = ConfigDict(extra="forbid")

    text: Text | Annotated[list[Text], Field(min_length=1)]

    @field_validator("text")
    @classmethod
    def _summarizable(cls, value: str | list[str]) -> str | list[str]:
        """Valid Unicode with something to summarize: an empty text would be charged a batch's energy share."""
        for text in [value] if isinstance(value, str) else value:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError("texts must be valid Unicode (a lone surrogate is not)") from error
            if not text.strip():
                raise ValueError("a text must not be empty or only white space")
        return value

    @property
    def texts(self) -> list[str]:
        """The texts as a list."""
        return [self.text] if isinstance(self.text, str) else list(self.text)


class SummaryOut(BaseModel):
    """One summary with what it cost (see `greentune.serve.batcher.RequestResult`)."""

    summary: str
    energy_j: float = Field(description="this text's share of its batch's measured energy, joules")
    gco2eq: float = Field(description="operational emissions of that energy, grams CO2eq")
    usd: float | None = Field(description="share of the batch's price, USD; null when the site has no price")
    latency_ms: float
    queue_ms: float
    batch_size: int
    input_tokens: int
    output_tokens: int
    source: str = Field(description="measured or estimated")


class SummarizeResponse(BaseModel):
    """Each summary, and the request's totals."""

    summaries: list[SummaryOut]
    energy_j: float
    gco2eq: float
    usd: float | None


class Health(BaseModel):
    """GET /health."""

    status: str
    model: str
    backend: str
    device: str
    replicas: int


class ErrorOut(BaseModel):
    """An error answer."""

    detail: str


@dataclass(frozen=True)
class AppOptions:
    """Web options: generation timeout per request (seconds) and whether to mount the Gradio page."""

    timeout_s: float = 60.0
    ui: bool = False


def to_response(results: Sequence[RequestResult]) -> SummarizeResponse:
    """The JSON answer for a request's results."""
    usd = None if any(r.usd is None for r in results) else sum(r.usd or 0.0 for r in results)
    return SummarizeResponse(
        summaries=[
            SummaryOut(
                summary=r.summary,
                energy_j=r.energy_j,
                gco2eq=r.gco2eq,
                usd=r.usd,
                latency_ms=r.latency_ms,
                queue_ms=r.queue_ms,
                batch_size=r.batch_size,
                input_tokens=r.input_tokens,
                output_tokens=r.output_tokens,
                source=r.source,
            )
            for r in results
        ],
        energy_j=sum(r.energy_j for r in results),
        gco2eq=sum(r.gco2eq for r in results),
        usd=usd,
    )


def create_app(engine: Engine, options: AppOptions) -> FastAPI:
    """The app serving `engine`; its lifespan drains the engine at shutdown."""
    log = RequestLog()
    metrics = ServeMetrics(engine.snapshots)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(engine.close)

    app = FastAPI(
        title="greentune serve",
        description="Summaries with the energy, carbon and cost of each request, measured.",
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.log = log
    app.state.metrics = metrics

    errors: dict[int | str, dict[str, object]] = {
        413: {"model": ErrorOut, "description": "a text over --max-input-tokens, or more texts than --queue"},
        429: {"model": ErrorOut, "description": "the queue is full; see Retry-After"},
        503: {"model": ErrorOut, "description": "the server is shutting down"},
        504: {"model": ErrorOut, "description": "generation took longer than --timeout"},
    }

    @app.post("/summarize", response_model=SummarizeResponse, responses=errors)
    async def summarize(body: SummarizeRequest) -> Response:
        """Summarize one text or a list; each summary says its energy, carbon, cost and latency."""
        status, answer = await answer_texts(engine, body.texts, options.timeout_s, log, metrics)
        metrics.requests.labels(status=str(status)).inc()
        return answer

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        """The model served and its backend."""
        info = engine.info
        return Health(status="ok", model=info.model, backend=info.backend, device=info.device, replicas=info.replicas)

    @app.get("/stats", response_model=Stats)
    async def stats() -> Stats:
        """Totals: requests, J/request, Wh and gCO2eq per 1,000 requests, active and idle energy."""
        snapshots = await asyncio.to_thread(engine.snapshots)
        return build_stats(combine(snapshots), log)

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text exposition."""
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    if options.ui:
        from greentune.serve.ui import mount_ui

        app = mount_ui(app, engine, options.timeout_s, log, metrics)
    return app


async def answer_texts(
    engine: Engine, texts: list[str], timeout_s: float, log: RequestLog, metrics: ServeMetrics
) -> tuple[int, Response]:
    """Run `texts` through the engine; the HTTP status and answer (errors as one-line JSON)."""
    try:
        results = await asyncio.wait_for(engine.summarize(texts), timeout=timeout_s)
    except InputTooLong as error:
        return 413, JSONResponse({"detail": str(error)}, status_code=413)
    except QueueFull as error:
        headers = {"Retry-After": str(error.retry_after_s)}
        return 429, JSONResponse({"detail": str(error)}, status_code=429, headers=headers)
    except Closed as error:
        return 503, JSONResponse({"detail": str(error)}, status_code=503)
    except TimeoutError:
        detail = f"generation took longer than the timeout of {timeout_s:g} s (--timeout)"
        return 504, JSONResponse({"detail": detail}, status_code=504)
    log.add(results)
    metrics.observe(results)
    return 200, JSONResponse(to_response(results).model_dump(mode="json"))
