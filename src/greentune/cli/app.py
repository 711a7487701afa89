"""The Typer app and its entry point.

Each command lives in its own module under `greentune.cli` and is registered
here. Command modules import only light packages at module level; heavy ones
(torch, transformers, mlflow) are imported inside the command, so that
`greentune estimate` or `greentune schedule` start fast.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from greentune.errors import GreentuneError

app = typer.Typer(
    name="greentune",
    help="Measure, compare and shrink the energy, carbon and cost of fine-tuning summarization models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from greentune.cli import doctor, estimate, measure, regions, report, run, schedule

    measure.register(app)
    doctor.register(app)
    estimate.register(app)
    regions.register(app)
    schedule.register(app)
    run.register(app)
    report.register(app)


_register()


def main() -> None:
    """Run the CLI; a GreentuneError becomes one red line and exit code 2."""
    try:
        app()
    except GreentuneError as error:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {error}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/yellow]")
        sys.exit(130)
