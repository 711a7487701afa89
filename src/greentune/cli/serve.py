"""`greentune serve MODEL`: an endpoint that meters every request (see `greentune.serve`)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from greentune.errors import GreentuneError
from greentune.infer.summarizer import Backend
from greentune.meter.scope import Scope

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add `serve` to the app."""
    app.command("serve")(serve_command)


def serve_command(
    model: Annotated[str, typer.Argument(help="a ledger run name, a model folder, a Hub name, or minilm-bert2bert")],
    host: Annotated[str, typer.Option("--host", help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="port to listen on")] = 8000,
    backend: Annotated[Backend, typer.Option("--backend", help="what runs the model")] = Backend.EAGER,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N")] = "cpu",
    num_beams: Annotated[
        int | None, typer.Option("--num-beams", min=1, help="beams (default: the run's, else 1)")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option("--max-new-tokens", min=1, help="summary length cap (default: the run's, else 64)")
    ] = None,
    max_batch: Annotated[int, typer.Option("--max-batch", help="most texts per batch")] = 8,
    max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", help="longest wait for a batch to fill, ms")] = 20.0,
    queue: Annotated[int, typer.Option("--queue", help="most texts waiting; more get 429")] = 256,
    max_input_tokens: Annotated[int, typer.Option("--max-input-tokens", help="longer texts get 413")] = 512,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds before a request gets 504")] = 60.0,
    location: Annotated[str | None, typer.Option("--location", help="country or provider:region for carbon")] = None,
    pue: Annotated[float | None, typer.Option("--pue", help="facility PUE (default: the provider's)")] = None,
    sku: Annotated[str | None, typer.Option("--sku", help="instance type whose hourly price gives $")] = None,
    prices: Annotated[str | None, typer.Option("--prices", help="YAML file of extra prices")] = None,
    scope: Annotated[
        Scope, typer.Option("--scope", help="whose CPU/RAM power counts: the machine's or this process's")
    ] = Scope.MACHINE,
    ui: Annotated[bool, typer.Option("--ui", help="mount a Gradio page at /ui")] = False,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="Ray Serve replicas (1: in this process)")] = 1,
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="ledger experiment")] = "greentune-serve",
    run_name: Annotated[str | None, typer.Option("--run-name", help="name of the session's record")] = None,
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow store")] = None,
) -> None:
    """Serve a summarizer over HTTP; every request's energy, carbon and cost are measured and recorded."""
    from greentune.carbon import resolve_site
    from greentune.infer.summarizer import GenerationSettings
    from greentune.serve.batcher import BatcherConfig
    from greentune.serve.model import resolve_served_model
    from greentune.serve.server import ServeRequest, check_port_free, run_server

    if not (timeout > 0 and timeout < float("inf")):
        raise GreentuneError(f"--timeout must be a positive number of seconds, got {timeout}")
    batching = BatcherConfig(max_batch, max_wait_ms, queue, max_input_tokens)
    site = resolve_site(location, pue=pue, sku=sku, prices=prices)
    check_port_free(host, port)
    if model == "minilm-bert2bert":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    served = resolve_served_model(model, tracking_uri)
    settings = GenerationSettings(
        num_beams=num_beams or served.num_beams or 1,
        max_new_tokens=max_new_tokens or served.max_new_tokens or 64,
        max_input_tokens=max_input_tokens,
    )
    request = ServeRequest(
        served=served,
        backend=backend,
        device=device,
        settings=settings,
        batching=batching,
        site=site,
        host=host,
        port=port,
        timeout_s=timeout,
        ui=ui,
        replicas=replicas,
        scope=scope,
        experiment=experiment,
        run_name=run_name,
        tracking_uri=tracking_uri,
    )
    record = run_server(
        request,
        on_ready=lambda line: console.print(line, highlight=False, soft_wrap=True),
        loading=lambda: console.status(f"loading {served.label} ({backend}, {device})"),
    )
    serving = record.serving
    if serving is None:
        return
    console.print(
        f"session {record.run_name} recorded: {serving.requests} requests, "
        f"{serving.active_energy_kwh * 1000:.4f} Wh active + {serving.idle_energy_kwh * 1000:.4f} Wh idle, "
        f"{record.emissions_gco2eq:.3f} gCO2eq (`greentune runs` lists it)",
        highlight=False,
        soft_wrap=True,
    )
