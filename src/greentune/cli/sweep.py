"""`greentune sweep SWEEP.yaml`: a hyperparameter search on Ray Tune, every trial metered, the search's footprint recorded."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from greentune.sweep.kinds import SchedulerKind, SearchAlgorithm

if TYPE_CHECKING:
    from greentune.ledger import RunRecord

console = Console()


def register(app: typer.Typer) -> None:
    """Add `sweep` to the app."""
    app.command("sweep")(sweep_command)


def sweep_command(
    sweep_file: Path = typer.Argument(..., help="sweep spec (YAML): base spec, space, search, scheduler, budget"),
    num_samples: int | None = typer.Option(None, "--num-samples", min=1, help="trials (grid: repeats of the grid)"),
    max_concurrent: int | None = typer.Option(None, "--max-concurrent", min=1, help="trials running at once"),
    search: SearchAlgorithm | None = typer.Option(None, "--search", help="random, grid or optuna (TPE)"),
    scheduler: SchedulerKind | None = typer.Option(None, "--scheduler", help="none, asha or pbt"),
    cpus_per_trial: float | None = typer.Option(None, "--cpus-per-trial", help="CPUs each trial reserves"),
    gpus_per_trial: float | None = typer.Option(None, "--gpus-per-trial", help="GPUs each trial reserves"),
    budget_kwh: float | None = typer.Option(None, "--budget-kwh", help="stop the sweep at this much energy"),
    budget_gco2: float | None = typer.Option(None, "--budget-gco2", help="stop the sweep at this much gCO2eq"),
    budget_usd: float | None = typer.Option(None, "--budget-usd", help="stop the sweep at this cost in USD"),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: a local Ray)"),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="the sweep's own folder and Ray's results (default: beside the ledger)"
    ),
) -> None:
    """Search hyperparameters on Ray Tune: every trial a child run with its energy, carbon and cost; the whole search's footprint in a parent run."""
    from greentune.sweep.spec import load_sweep

    sweep = load_sweep(
        sweep_file,
        {
            "search.num_samples": num_samples,
            "search.max_concurrent": max_concurrent,
            "search.algorithm": search.value if search is not None else None,
            "scheduler.kind": scheduler.value if scheduler is not None else None,
            "resources.cpus": cpus_per_trial,
            "resources.gpus": gpus_per_trial,
            "budget.kwh": budget_kwh,
            "budget.gco2": budget_gco2,
            "budget.usd": budget_usd,
            "address": address,
        },
    )
    from greentune.sweep.tune import SweepRequest, run_sweep

    console.print(
        f"sweep {sweep.name}: {sweep.search.algorithm.value} search, scheduler {sweep.scheduler.kind.value}, "
        f"{sweep.search.num_samples} sample(s), {sweep.search.max_concurrent} at a time, "
        f"on {sweep.address or 'a local Ray'}"
    )
    with _progress() as progress:
        record = run_sweep(SweepRequest(sweep=sweep, runs_dir=runs_dir, progress=progress))
    console.print(trials_table(record))
    for line in footprint_lines(record):
        console.print(line, highlight=False)
    console.print(f"recorded in the ledger as {record.run_id} (kind sweep); `greentune runs --json` lists its trials")


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def trials_table(record: RunRecord) -> Table:
    """One row per trial of a sweep record: status, config, ROUGE-1, kWh, gCO2eq, $."""
    from rich import box

    table = Table(title=f"sweep {record.run_name} ({record.status})", box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("trial", "status", "config", "ROUGE-1", "kWh", "gCO2eq", "$"):
        table.add_column(column, justify="left" if column in ("trial", "status", "config") else "right")
    for trial in record.sweep.trials if record.sweep else []:
        table.add_row(
            trial.trial_id + (f"/{trial.segment}" if trial.segment > 1 else ""),
            trial.status.value,
            ", ".join(
                f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"
                for key, value in trial.config.items()
            ),
            f"{trial.rouge1:.1f}" if trial.rouge1 is not None else "—",
            f"{trial.energy_kwh:.2g}",
            f"{trial.emissions_gco2eq:.3g}",
            f"{trial.cost_usd:.3g}" if trial.cost_usd is not None else "—",
        )
    return table


def footprint_lines(record: RunRecord) -> list[str]:
    """The search's footprint in a few lines (also used by `greentune runs`)."""
    from greentune.sweep.footprint import footprint_lines as lines

    return lines(record)
