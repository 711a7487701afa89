"""`greentune measure -- CMD ARGS…`: run a command and measure the machine's time and energy meanwhile.

The command runs as a child process; its exit code becomes ours (128+N when
it dies of signal N). Ctrl-C (SIGINT) and SIGTERM are forwarded to it, and
whatever was measured until it exits is still written: ``meter.jsonl`` and
CodeCarbon's ``emissions.csv`` in the output folder. With ``--json`` exactly
one JSON object goes to stdout and the child's stdout goes to stderr.
``--scope process`` charges only the command's own CPU time and memory (see
`greentune.meter.host`), for a fair figure on a machine others are using.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from greentune.errors import GreentuneError
from greentune.meter import SCOPES, Scope

USAGE = "greentune measure [--interval-ms N] [--scope machine|process] [--output DIR] [--json] -- CMD ARGS…"
WINDOW = "command"


def register(app: typer.Typer) -> None:
    """Add `greentune measure`."""
    app.command("measure", help=f"Run a command and measure time and energy: {USAGE}")(measure)


def measure(
    command: Annotated[
        list[str] | None, typer.Argument(metavar="-- CMD ARGS…", help="The command to run, after --.")
    ] = None,
    interval_ms: Annotated[int, typer.Option("--interval-ms", min=1, help="Sampling period in milliseconds.")] = 100,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="Whose CPU and RAM use is charged: 'machine' (all of it) or 'process' (the command's tree only).",
        ),
    ] = "machine",
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Folder for meter.jsonl and emissions.csv (default: new, in ./greentune-runs/)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")
    ] = False,
) -> None:
    """Run CMD as a child process, measure the machine meanwhile, exit with CMD's exit code."""
    if not command:
        raise GreentuneError(f"no command given; usage: {USAGE}")
    if scope not in SCOPES:
        raise GreentuneError(f"unknown scope {scope!r}; use machine or process")
    executable = _resolve(command[0])
    default_dir = Path("greentune-runs") / f"measure-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    output_dir = _prepare_output(output or default_dir)

    from greentune.meter import Meter, write_codecarbon_csv

    meter = Meter(interval_ms=interval_ms, log_path=output_dir / "meter.jsonl", scope=cast("Scope", scope))
    forwarder = _SignalForwarder()
    forwarder.install()  # before meter.start(), so the meter's SIGTERM handler chains to ours
    try:
        meter.start()
        meter.begin_window(WINDOW)
        try:
            child = subprocess.Popen(command, executable=executable, stdout=sys.stderr if json_output else None)
        except OSError as error:
            meter.stop()
            raise GreentuneError(f"cannot run {command[0]}: {error.strerror}") from error
        forwarder.attach(child)
        returncode = child.wait()
        measurement = meter.end_window(WINDOW)
        meter.stop()
    finally:
        forwarder.remove()
    csv_path = write_codecarbon_csv(output_dir / "emissions.csv", [measurement], hardware=meter.hardware)
    exit_code = returncode if returncode >= 0 else 128 - returncode
    summary = {
        "command": command,
        "exit_code": exit_code,
        "scope": scope,
        **measurement.to_dict(),
        "log_path": str(meter.log_path),
        "csv_path": str(csv_path),
    }
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        _print_summary(summary)
    raise typer.Exit(exit_code)


class _SignalForwarder:
    """Pass SIGINT and SIGTERM on to the child instead of dying, so the measurement can be written.

    A signal that comes before the child exists is kept and sent to it as soon as it does: raising
    KeyboardInterrupt then could leave a child just forked by Popen running on its own.
    """

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}
        self._pending: list[int] = []

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._forward)

    def remove(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        """Forward to `child` from now on, starting with any signal that came before it."""
        self.child = child
        while self._pending:
            self._send(self._pending.pop(0))

    def _forward(self, signum: int, frame: object) -> None:
        if self.child is None:
            self._pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signum)
            except ProcessLookupError:
                pass


def _resolve(program: str) -> str:
    """The executable's path, or a one-line error when there is none."""
    found = shutil.which(program)
    if found is None:
        raise GreentuneError(f"command not found: {program}")
    return found


def _prepare_output(output_dir: Path) -> Path:
    """Create the output folder and make sure we can write there, before the command starts."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / ".greentune-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise GreentuneError(
            f"cannot write to output folder {output_dir}: {error.strerror}; pass --output DIR with a writable folder"
        ) from error
    return output_dir


def _print_summary(summary: dict[str, Any]) -> None:
    """Duration, energy by component with its source, average and peak power, and the files written."""
    console = Console(soft_wrap=True)
    console.print(
        f"[bold]{' '.join(summary['command'])}[/bold] exited {summary['exit_code']} · "
        f"{summary['duration_s']:.2f} s · {summary['energy_j']:.1f} J ({summary['energy_kwh']:.3g} kWh) · "
        f"avg {summary['avg_power_w']:.1f} W · peak {summary['peak_power_w']:.1f} W · {summary['scope']} scope",
        highlight=False,
    )
    table = Table("component", "source", "energy (J)", "energy (kWh)", "avg power (W)")
    for component in summary["components"]:
        average_w = component["energy_j"] / summary["duration_s"] if summary["duration_s"] > 0 else 0.0
        tag = "[green]measured[/green]" if component["source"] == "measured" else "[yellow]estimated[/yellow]"
        table.add_row(
            component["name"], tag, f"{component['energy_j']:.2f}", f"{component['energy_kwh']:.3g}", f"{average_w:.1f}"
        )
    console.print(table)
    console.print(f"log: {summary['log_path']}  csv: {summary['csv_path']}", highlight=False)
