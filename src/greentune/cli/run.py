"""`greentune run`, `greentune runs` and `greentune demo`: fine-tune from a spec, list the ledger, run the offline demo."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from greentune.ledger import RunRecord

console = Console()


def register(app: typer.Typer) -> None:
    """Add `run`, `runs` and `demo` to the app."""
    app.command("run")(run_command)
    app.command("runs")(runs_command)
    app.command("demo")(demo_command)


def run_command(
    spec: Path = typer.Argument(..., help="experiment spec (YAML); see examples/"),
    set_values: list[str] = typer.Option([], "--set", help="override one spec value, e.g. --set strategies.precision=bf16"),
    resume: bool = typer.Option(False, "--resume", help="continue from the last Trainer checkpoint of this run"),
) -> None:
    """Fine-tune a summarization model as SPEC says; measure every phase and record the run in the ledger."""
    from greentune.finetune.spec import load_spec

    experiment = load_spec(spec, set_values)
    from greentune.finetune import run

    with _progress() as progress:
        record = run(experiment, resume=resume, progress=progress)
    console.print(comparison_table([record], title=f"run {record.run_name} ({record.status})"))
    console.print(f"recorded in the ledger as {record.run_id}; artifacts in {record.artifact_dir}")


def runs_command(
    as_json: bool = typer.Option(False, "--json", help="print the records as JSON"),
    experiment: str | None = typer.Option(None, "--experiment", help="only this experiment"),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow store; default greentune-runs/mlflow.db"),
) -> None:
    """List the recorded runs: ROUGE, time, energy, carbon and cost of each."""
    from greentune.ledger import read_runs

    records = read_runs(tracking_uri=tracking_uri, experiment=experiment)
    if as_json:
        typer.echo(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return
    if not records:
        console.print("no runs recorded yet; try `greentune demo` or `greentune run SPEC.yaml`")
        return
    console.print(comparison_table(records, title="greentune runs"))


def demo_command(
    experiment: str = typer.Option("greentune-demo", "--experiment", help="ledger experiment for the demo runs"),
    location: str | None = typer.Option(None, "--location", help="country or provider:region for the carbon accounting"),
    sku: str | None = typer.Option(None, "--sku", help="cloud instance type whose hourly price gives the $ column"),
) -> None:
    """Offline CPU demo: MiniLM BERT2BERT on ACLSum, a baseline and two strategies, then a comparison table."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # built-ins only: never reach for the Hub
    from greentune.finetune.demo import DEMO_RUNS, demo_specs

    started = time.monotonic()
    specs = demo_specs(experiment, location=location, sku=sku)
    console.print(
        f"greentune demo: {len(specs)} fine-tuning runs of MiniLM BERT2BERT on ACLSum "
        f"({', '.join(label for label, _ in DEMO_RUNS)}), offline on CPU"
    )
    from greentune.finetune import run

    records = []
    with _progress() as progress:
        for spec in specs:
            records.append(run(spec, progress=progress))
            progress.console.print(f"  done: {_summary_line(records[-1])}")
    console.print(comparison_table(records, title="greentune demo: strategies compared"))
    console.print(f"{len(records)} runs in {time.monotonic() - started:.0f} s. {_footnote(records)}")
    console.print("`greentune runs` lists them from the ledger; `greentune report` compares them.")


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _footnote(records: list[RunRecord]) -> str:
    """How energy, carbon and $ were obtained, in one line."""
    first = records[0]
    energy = (
        "energy estimated from CPU utilisation × TDP and RAM in use (no RAPL or NVML counter readable here)"
        if any(record.energy_source == "estimated" for record in records)
        else "energy measured by hardware counters"
    )
    cost = "" if first.cost_usd is not None else "; $ needs a cloud SKU (--sku)"
    return f"{energy}; carbon at {first.location}, {first.intensity_gco2eq_per_kwh:g} gCO2eq/kWh{cost}."


def _summary_line(record: RunRecord) -> str:
    rouge1 = record.rouge.get("rouge1")
    return (
        f"{record.run_name}: ROUGE-1 {rouge1:.1f}" if rouge1 is not None else f"{record.run_name}: no ROUGE"
    ) + f", {record.duration_s:.0f} s, {record.energy_kwh * 1000:.2f} Wh ({record.energy_source})"


def comparison_table(records: list[RunRecord], title: str) -> Table:
    """One row per run: strategies, epochs, ROUGE-1/2/L, duration, kWh (measured/estimated), gCO2eq, $."""
    table = Table(title=title)
    for column in ("run", "status", "epochs", "ROUGE-1", "ROUGE-2", "ROUGE-L", "duration s", "kWh", "gCO2eq", "$", "saved by early stop"):
        table.add_column(column, justify="left" if column in ("run", "status") else "right")
    for record in records:
        epochs = f"{record.epochs_run:g}/{record.epochs_budget:g}" if record.epochs_run and record.epochs_budget else "—"
        saved = "—"
        if record.early_stopping_saved_kwh is not None and record.epochs_run and record.epochs_budget:
            saved = f"{record.epochs_budget - record.epochs_run:g} ep, {record.early_stopping_saved_kwh:.5f} kWh"
        table.add_row(
            record.run_name,
            record.status,
            epochs,
            _points(record.rouge.get("rouge1")),
            _points(record.rouge.get("rouge2")),
            _points(record.rouge.get("rougeL")),
            f"{record.duration_s:.0f}",
            f"{record.energy_kwh:.5f} ({record.energy_source})",
            f"{record.emissions_gco2eq:.2f}",
            f"{record.cost_usd:.4f}" if record.cost_usd is not None else "— (no SKU)",
            saved,
        )
    return table


def _points(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"
