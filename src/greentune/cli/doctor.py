"""`greentune doctor`: which energy sensors this machine has, and for each missing one why and what to do."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add `greentune doctor`."""
    app.command("doctor", help="Show the energy sensors found here, and why any is missing.")(doctor)


def doctor() -> None:
    """One row per sensor (NVML, RAPL, host model): found or not, what it meters, what to do."""
    from greentune.meter import detect_sensors

    table = Table("sensor", "status", "what it found, or why not — and what to do")
    table.columns[2].overflow = "fold"
    for detection in detect_sensors():
        if detection.sensor is None:
            status = "[red]missing[/red]"
        else:
            status = "[green]found[/green]"
            detection.sensor.close()
        cell = detection.detail
        if detection.sensor is not None and detection.sensor.components:
            cell += "\nmeters: " + ", ".join(f"{c.name} ({c.source})" for c in detection.sensor.components)
        if detection.advice:
            cell += f"\n[bold]to do:[/bold] {detection.advice}"
        table.add_row(detection.sensor_name, status, cell)
    console = Console()
    console.print(table)
    console.print(
        "(estimated) energy comes from the CPU TDP, per-core and RAM power tables in greentune/data; "
        "(measured) energy from hardware counters.",
        highlight=False,
        soft_wrap=True,
    )
