"""The Typer app and its entry point.

Each command lives in its own module under `greentune.cli` and is registered
here. Command modules import only light packages at module level; heavy ones
(torch, transformers, mlflow) are imported inside the command, so that
`greentune estimate` or `greentune schedule` start fast.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

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


# typer vendors its own click in a private module; its public BadParameter leads to the base class it raises
_ClickException: type[Any] = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException")


def main() -> None:
    """Run the CLI. User errors (ours and click's usage errors) become one red line and exit code 2."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        exit_code = app(standalone_mode=False)
    except GreentuneError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        sys.exit(2)
    except _ClickException as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            error.show()
            sys.exit(0)
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        console.print(f"[red]error:[/red] {escape(error.format_message())}{escape(hint)}", highlight=False)
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("[yellow]interrupted[/yellow]")
        sys.exit(130)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
