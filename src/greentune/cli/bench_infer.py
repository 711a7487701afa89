"""`greentune bench-infer MODEL`: the inference grid (backend × precision × batch × beams × device) and a recommendation."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console

from greentune.cli.json_output import echo_json
from greentune.infer.rows import Split
from greentune.infer.summarizer import Backend, Precision
from greentune.meter.scope import Scope


def register(app: typer.Typer) -> None:
    """Add `bench-infer` to the app."""
    app.command("bench-infer")(bench_infer)


def bench_infer(
    model: str = typer.Argument(..., help="minilm-bert2bert, a model folder, a ledger run (id or name) or a Hub name."),
    samples: int = typer.Option(50, "--samples", help="Examples of the split to summarize per configuration."),
    data: str = typer.Option("aclsum", "--data", help="Data set: aclsum (built-in), a Hub name or a .jsonl/.csv file."),
    split: Split = typer.Option(Split.VALIDATION, "--split", help="Which split to summarize."),
    backend: list[Backend] = typer.Option(list(Backend), "--backend", help="Backends to try (repeat the option)."),
    precision: list[Precision] = typer.Option(
        [], "--precision", help="Precisions to try with every backend; default: each backend's own grid."
    ),
    batch_size: list[int] = typer.Option([1, 16], "--batch-size", help="Batch sizes (repeat the option)."),
    beams: list[int] = typer.Option([1], "--beams", help="Beam counts; 1 is greedy (repeat the option)."),
    device: list[str] = typer.Option(["cpu"], "--device", help="cpu, cuda or cuda:N (repeat the option)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1, help="Summary length limit in tokens."),
    max_input_tokens: int = typer.Option(512, "--max-input-tokens", min=1, help="Input cut-off in tokens."),
    latency_budget_ms: float | None = typer.Option(
        None, "--latency-budget-ms", help="p95 latency per generate call the recommendation must keep."
    ),
    location: str | None = typer.Option(
        None, "--location", help="Country, zone or provider:region for the accounting."
    ),
    pue: float | None = typer.Option(None, "--pue", help="PUE of the site (default: the provider's, else 1.0)."),
    sku: str | None = typer.Option(None, "--sku", help="Instance SKU, to price the summaries in $."),
    prices: str | None = typer.Option(None, "--prices", help="YAML file of extra SKU prices."),
    meter_scope: Scope = typer.Option(
        Scope.MACHINE,
        "--scope",
        "--meter-scope",
        help="Whose CPU and RAM use is charged: the machine's or this process's.",
    ),
    record: bool = typer.Option(True, "--record/--no-record", help="Write each configuration to the ledger."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI of the ledger."),
    experiment: str = typer.Option("bench-infer", "--experiment", "-e", help="MLflow experiment of the records."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows and the recommendation as JSON."),
) -> None:
    """Measure J/summary, latency and quality per inference configuration; recommend the cheapest that fits."""
    from greentune.infer.bench import BenchRequest, run_bench
    from greentune.ledger import default_tracking_uri
    from greentune.paths import home_for

    request = BenchRequest(
        model=model,
        samples=samples,
        dataset=data,
        split=split,
        backends=tuple(dict.fromkeys(backend)),
        precisions=tuple(dict.fromkeys(precision)),
        batch_sizes=tuple(dict.fromkeys(batch_size)),
        beams=tuple(dict.fromkeys(beams)),
        devices=tuple(dict.fromkeys(device)),
        max_new_tokens=max_new_tokens,
        max_input_tokens=max_input_tokens,
        latency_budget_ms=latency_budget_ms,
        location=location,
        pue=pue,
        sku=sku,
        prices=prices,
        meter_scope=meter_scope,
        record=record,
        tracking_uri=tracking_uri,
        experiment=experiment,
        runs_dir=home_for(tracking_uri or default_tracking_uri()),
    )
    from greentune.infer.bench import plan_grid

    plan_grid(request)  # bad options fail here, before any model loads
    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def advance(label: str, done: int, total: int) -> None:
            if progress is None:
                return
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done)

        result = run_bench(request, advance)
    if as_json:
        echo_json(result.to_dict())
        return
    _print_table(result)


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


def _progress() -> Any:
    """Rich bars on a terminal (stderr), nothing otherwise."""
    if not sys.stderr.isatty():
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _print_table(result: Any) -> None:
    from rich.table import Table

    from greentune.report.fmt import fixed, memory, sig

    table = Table(title=f"bench-infer {result.model}: {result.samples} {result.dataset} {result.split} examples")
    for header in (
        "backend",
        "precision",
        "batch",
        "beams",
        "device",
        "J/summary",
        "Wh/1000",
        "summ/s",
        "p50 ms",
        "p95 ms",
        "peak RAM",
        "ROUGE-1",
        "Δ R-1",
        "Δ R-2",
        "Δ R-L",
        "exact",
    ):
        table.add_column(header)
    for row in result.rows:
        config = row.config
        head = [
            str(config.backend),
            str(config.precision),
            str(config.batch_size),
            str(config.num_beams),
            config.device,
        ]
        if row.reason is not None:
            table.add_row(*head, f"[yellow]{row.reason}[/yellow]", *[""] * 10)
            continue
        table.add_row(
            *head,
            sig(row.j_per_summary),
            sig(row.wh_per_1000),
            sig(row.summaries_per_s),
            fixed(row.latency_p50_ms, 0),
            fixed(row.latency_p95_ms, 0),
            memory(row.peak_ram_bytes),
            fixed(row.rouge1, 2),
            fixed(row.rouge1_delta, 2),
            fixed(row.rouge2_delta, 2),
            fixed(row.rougeL_delta, 2),
            fixed(None if row.exact_match_share is None else 100 * row.exact_match_share, 0) + "%",
        )
    console = Console(soft_wrap=True)
    console.print(table)
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)
    console.print(result.recommendation.line, highlight=False)
