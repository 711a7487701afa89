"""The Typer app and its entry point.

Each command lives in its own module under `greentune.cli` and is registered
here. Command modules import only light packages at module level; heavy ones
(torch, transformers, mlflow) are imported inside the command, so that
`greentune estimate` or `greentune schedule` start fast.

`app` is built on first use (PEP 562 module `__getattr__`): `main` serves a
plain `greentune measure [options] -- CMD` without importing Typer or Rich at
all, since every millisecond there is added to the measured command.
"""

from __future__ import annotations

import os
import sys

from greentune.errors import GreentuneError

TYPE_CHECKING = False  # typing is not imported on `greentune measure`'s path
if TYPE_CHECKING:
    from typing import Any

    import typer


def _build_app() -> typer.Typer:
    import typer

    app = typer.Typer(
        name="greentune",
        help="Measure, compare and shrink the energy, carbon and cost of fine-tuning summarization models.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    _register(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        built = _build_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _register(app: typer.Typer) -> None:
    from greentune.cli import (
        badge,
        bench_infer,
        doctor,
        estimate,
        footprint,
        ledger,
        measure,
        regions,
        report,
        run,
        schedule,
        serve,
        sweep,
    )

    measure.register(app)
    doctor.register(app)
    estimate.register(app)
    regions.register(app)
    schedule.register(app)
    run.register(app)
    report.register(app)
    ledger.register(app)
    footprint.register(app)
    badge.register(app)
    bench_infer.register(app)
    serve.register(app)
    sweep.register(app)


def _require_working_dir() -> None:
    """A current folder deleted under the shell breaks the default ledger path and even imports: say so once."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise GreentuneError("the current folder no longer exists (deleted?); cd to an existing folder") from None


def main() -> None:
    """Run the CLI. User errors (ours and click's usage errors) become one red line and exit code 2; Ctrl-C says
    `interrupted` and exits 130, also while the CLI is still importing."""
    try:
        _main()
    except KeyboardInterrupt:  # before Typer is imported (or while it is): plain text, no Rich yet
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def _main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "measure":
        from greentune.cli.measure_core import fast_main, parse_fast

        request = parse_fast(sys.argv[2:])
        if request is not None:
            fast_main(request)
    import typer
    from rich.console import Console
    from rich.markup import escape

    # typer vendors its own click; its public BadParameter leads to the base classes it raises
    click_exception: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    abort: Any = next(c for c in typer.Abort.__mro__ if c.__name__ == "Abort")
    console = Console(stderr=True, soft_wrap=True)
    try:
        _require_working_dir()
        exit_code = __getattr__("app")(standalone_mode=False)
    except GreentuneError as error:
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
        sys.exit(2)
    except click_exception as error:
        if type(error).__name__ == "NoArgsIsHelpError":
            error.show()
            sys.exit(0)
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        console.print(f"[red]error:[/red] {escape(error.format_message())}{escape(hint)}", highlight=False)
        sys.exit(error.exit_code)
    except (abort, KeyboardInterrupt):
        exit_code = 130
    if exit_code == 130:  # Typer turns Ctrl-C inside a command into a silent exit code 130
        console.print("[yellow]interrupted[/yellow]")
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


if __name__ == "__main__":
    main()
