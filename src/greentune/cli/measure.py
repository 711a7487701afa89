"""`greentune measure -- CMD ARGS…`: run a command and measure the machine's time and energy meanwhile.

The command runs as a child process; its exit code becomes ours (128+N when
it dies of signal N). Ctrl-C (SIGINT) and SIGTERM are forwarded to it, and
whatever was measured until it exits is still written: ``meter.jsonl`` and
CodeCarbon's ``emissions.csv`` in the output folder. With ``--json`` exactly
one JSON object goes to stdout and the child's stdout goes to stderr.
``--scope process`` charges only the command's own CPU time and memory (see
`greentune.meter.host`), for a fair figure on a machine others are using.

This module is the Typer face of the command (help, option errors); the work
is in `greentune.cli.measure_core`, which a plain command line reaches
without Typer (see `greentune.cli.app.main`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from greentune.cli.measure_core import MAX_INTERVAL_MS, OUTPUT_OPTIONS, USAGE, MeasureRequest, measure_command


def register(app: typer.Typer) -> None:
    """Add `greentune measure`."""
    app.command("measure", help=f"Run a command and measure time and energy: {USAGE}")(measure)


def measure(
    command: Annotated[
        list[str] | None, typer.Argument(metavar="-- CMD ARGS…", help="The command to run, after --.")
    ] = None,
    interval_ms: Annotated[
        int, typer.Option("--interval-ms", min=1, max=MAX_INTERVAL_MS, help="Sampling period in milliseconds.")
    ] = 100,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="Whose CPU and RAM use is charged: 'machine' (all of it) or 'process' (the command's tree only).",
        ),
    ] = "machine",
    output: Annotated[
        Path | None,
        typer.Option(
            *OUTPUT_OPTIONS, help="Folder for meter.jsonl and emissions.csv (default: new, in ./greentune-runs/)."
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")
    ] = False,
) -> None:
    """Run CMD as a child process, measure the machine meanwhile, exit with CMD's exit code."""
    request = MeasureRequest(tuple(command or ()), interval_ms, scope, output, json_output)
    raise typer.Exit(measure_command(request))
