"""What `greentune measure -- CMD ARGS…` does, without Typer or Rich: run a command and measure meanwhile.

The command runs as a child process; its exit code becomes ours (128+N when
it dies of signal N). Whatever was measured until it exits is written —
``meter.jsonl`` and CodeCarbon's ``emissions.csv`` in the output folder — and
printed. If the output folder fills up or turns read-only meanwhile, the
figures come from memory, one warning line says what was not written, and
the exit code is still the child's.

Signals: SIGTERM is forwarded to the child. SIGINT is forwarded only when
the child did not get it already: when we and the child are in the
terminal's foreground process group, the terminal sent Ctrl-C to both, and
sending it again would make the child see two (the first may already have
it cleaning up). A SIGINT sent to us alone (``kill -INT``) while we are in
the foreground is therefore not passed on; that is the price of not being
able to tell its sender.

Start-up: `greentune.cli.app.main` calls `parse_fast` before it builds the
Typer app, so a plain ``measure`` command line costs neither Typer nor Rich.
That is why this module prints plain text instead of a Rich table; any
command line `parse_fast` does not understand (``--help``, a typo) goes to
the Typer command, which reports it. The command is then started as early
as possible: after a standard-library snapshot of the counters
(`greentune.meter.snapshot`), before the meter and psutil are imported, so
those imports run while the command does and the meter, seeded with the
snapshot, still measures it from its start. On a machine with an NVIDIA
driver the meter starts first (NVML's counter cannot be snapshotted without
NVML). The price: the meter's own start-up (its imports, about 0.1 CPU-second
on our machine) now falls inside the command's window. In ``machine`` scope
it is charged with the command, as everything else the machine does then —
noise for a command of minutes, a visible share for one of milliseconds; in
``process`` scope it is not, nor is anything else this process does (the
sampler thread): the host sensor charges the processes it starts
(``children_only``), not itself. benchmarks/measure_startup.py measures what
is left.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.meter.scope import SCOPES
from greentune.meter.snapshot import nvidia_present, take_snapshot
from greentune.paths import DEFAULT_HOME

TYPE_CHECKING = False  # typing itself is not imported before the command starts
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from greentune.meter import Meter
    from greentune.meter.snapshot import Snapshot

USAGE = "greentune measure [--interval-ms N] [--scope machine|process] [--output|-o DIR] [--json] -- CMD ARGS…"
# the sampler must read RAPL more often than its smallest counter wraps (17 s at 250 W, see meter/rapl.py)
MAX_INTERVAL_MS = 10_000
WINDOW = "command"
OUTPUT_OPTIONS = ("--output", "--out", "-o")  # --out/-o as in report, card, footprint and badge


class MeasureRequest:
    """One `greentune measure` invocation (a plain class: a dataclass or NamedTuple would import modules the
    command would wait for)."""

    __slots__ = ("command", "interval_ms", "json_output", "output", "scope")

    def __init__(
        self,
        command: tuple[str, ...],
        interval_ms: int = 100,
        scope: str = "machine",
        output: Path | None = None,
        json_output: bool = False,
    ) -> None:
        """``command`` with its arguments; the options as `greentune measure --help` describes them."""
        self.command = command
        self.interval_ms = interval_ms
        self.scope = scope
        self.output = output
        self.json_output = json_output


def parse_fast(argv: list[str]) -> MeasureRequest | None:
    """The request for a plain ``[options] -- CMD ARGS…`` command line; None for anything else."""
    if "--" not in argv:
        return None
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    values: dict[str, Any] = {}
    index = 0
    while index < len(options):
        option = options[index]
        name, _, inline = option.partition("=") if option.startswith("--") else (option, "", "")  # `-o=x` is click's
        if name == "--json" and not inline:
            values["json_output"] = True
            index += 1
            continue
        if name not in ("--interval-ms", "--scope", *OUTPUT_OPTIONS):
            return None
        if inline:
            value = inline
            index += 1
        elif index + 1 < len(options):
            value = options[index + 1]
            index += 2
        else:
            return None
        if name == "--interval-ms":
            if not value.isdigit() or not 1 <= int(value) <= MAX_INTERVAL_MS:
                return None
            values["interval_ms"] = int(value)
        elif name == "--scope":
            values["scope"] = value
        else:
            values["output"] = Path(value)
    return MeasureRequest(command=tuple(command), **values)


def fast_main(request: MeasureRequest) -> NoReturn:
    """Run the request and exit; a user error becomes one ``error:`` line and exit code 2.

    The process ends with `os._exit` once stdout and stderr are flushed: the interpreter's teardown (freeing
    every imported module, ≈ 30 ms on our 2-core machine) would only add to the time measure costs, and by
    then the meter is stopped and every file it wrote is closed.
    """
    try:
        exit_code = measure_command(request)
    except GreentuneError as error:
        print(f"error: {error}", file=sys.stderr)
        exit_code = 2
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe: nothing more can be said there
            pass
    os._exit(exit_code)


def measure_command(request: MeasureRequest) -> int:
    """Run the command under the meter, write and print the measurement; returns the exit code to use."""
    if not request.command:
        raise GreentuneError(f"no command given; usage: {USAGE}")
    if request.scope not in SCOPES:
        raise GreentuneError(f"unknown scope {request.scope!r}; use {' or '.join(SCOPES)}")
    executable = _resolve(request.command[0])  # before the output folder: a typo leaves nothing behind
    default_dir = DEFAULT_HOME / f"measure-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    output_dir = _prepare_output(request.output or default_dir)
    forwarder = _SignalForwarder()
    forwarder.install()  # before the meter starts, so the meter's SIGTERM handler chains to ours
    try:
        snapshot = None if nvidia_present() else take_snapshot()
        child = None if snapshot is None else _launch(request, executable, forwarder)
        meter = _start_meter(request, output_dir / "meter.jsonl", snapshot, child)
        if child is None:
            try:
                child = _launch(request, executable, forwarder)
            except GreentuneError:
                meter.stop()
                raise
        returncode = child.wait()
        measurement = meter.end_window(WINDOW)
        meter.stop()
    finally:
        forwarder.remove()
    exit_code = returncode if returncode >= 0 else 128 - returncode
    csv_path, not_written = _write_csv(output_dir / "emissions.csv", measurement, meter.hardware)
    if meter.log_error is not None:
        not_written.insert(0, f"{meter.log_path} ({meter.log_error.strerror or meter.log_error})")
    summary = {
        "command": list(request.command),
        "exit_code": exit_code,
        "scope": request.scope,
        **measurement.to_dict(),
        "log_path": str(meter.log_path) if meter.log_error is None else None,
        "csv_path": str(csv_path) if csv_path is not None else None,
    }
    if not_written:
        print(
            f"warning: not written: {'; '.join(not_written)}; the figures below are from memory",
            file=sys.stderr,
        )
    if request.json_output:
        import json  # here: not needed before the command starts

        _print_out(json.dumps(summary))
    else:
        _print_out(_summary_text(summary))
    return exit_code


def _print_out(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) loses the text, not the exit code or the files."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)  # so that the interpreter's last flush fails no more
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _write_csv(path: Path, measurement: Any, hardware: dict[str, Any]) -> tuple[Path | None, list[str]]:
    """emissions.csv, or None and why not (a full disk, a folder gone read-only)."""
    from greentune.meter import write_codecarbon_csv

    try:
        return write_codecarbon_csv(path, [measurement], hardware=hardware), []
    except GreentuneError as error:  # the writer's one line for an OSError
        reason = error.__cause__.strerror if isinstance(error.__cause__, OSError) else str(error)
        return None, [f"{path} ({reason})"]


class _SignalForwarder:
    """Pass SIGINT and SIGTERM on to the child instead of dying, so the measurement can be written.

    A signal that comes before the child exists is kept and sent to it as soon as it does: raising
    KeyboardInterrupt then could leave a child just forked by Popen running on its own. SIGINT is
    not passed on when the terminal already delivered it to the child (see the module docstring).
    """

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self._previous: dict[int, Any] = {}
        self._pending: list[int] = []
        self._terminal = _controlling_terminal()

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous[signum] = signal.signal(signum, self._forward)

    def remove(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        if self._terminal is not None:
            os.close(self._terminal)
            self._terminal = None

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        """Forward to `child` from now on, starting with any signal that came before it."""
        self.child = child
        while self._pending:
            self._send(self._pending.pop(0))

    def _forward(self, signum: int, frame: object) -> None:
        if self.child is None:
            self._pending.append(signum)
        elif not (signum == signal.SIGINT and self._terminal_sent_it_to(self.child)):
            self._send(signum)

    def _terminal_sent_it_to(self, child: subprocess.Popen[bytes]) -> bool:
        """Whether we and the child are the terminal's foreground group, which Ctrl-C reaches as a whole."""
        if self._terminal is None:
            return False
        try:
            group = os.getpgrp()
            return os.tcgetpgrp(self._terminal) == group and os.getpgid(child.pid) == group
        except OSError:  # the child is gone, or the terminal hung up
            return False

    def _send(self, signum: int) -> None:
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signum)
            except ProcessLookupError:
                pass


def _controlling_terminal() -> int | None:
    """A descriptor of our controlling terminal, or None when we have none (a service, `setsid`, CI)."""
    try:
        return os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return None


def _launch(request: MeasureRequest, executable: str, forwarder: _SignalForwarder) -> subprocess.Popen[bytes]:
    """Start the command, with signals forwarded to it from now on; one line when it cannot start."""
    try:
        child = subprocess.Popen(
            list(request.command), executable=executable, stdout=sys.stderr if request.json_output else None
        )
    except OSError as error:
        raise GreentuneError(f"cannot run {request.command[0]}: {error.strerror}") from error
    forwarder.attach(child)
    return child


def _start_meter(
    request: MeasureRequest, log_path: Path, snapshot: Snapshot | None, child: subprocess.Popen[bytes] | None
) -> Meter:
    """The started meter, its command window open from ``snapshot`` (or from now, without one)."""
    from greentune.meter import Meter, Scope
    from greentune.meter.detect import autodetect

    try:
        sensors = autodetect(scope=Scope(request.scope), since=snapshot, children_only=True)
        meter = Meter(interval_ms=request.interval_ms, log_path=log_path, sensors=sensors, since=snapshot)
        return meter.start(window=WINDOW)
    except BaseException:
        if child is not None:
            child.wait()  # never leave the command running on its own
        raise


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


def _summary_text(summary: dict[str, Any]) -> str:
    """Duration, energy by component with its source, average and peak power, and the files written (plain text)."""
    lines = [
        f"{' '.join(summary['command'])} exited {summary['exit_code']} · "
        f"{summary['duration_s']:.2f} s · {summary['energy_j']:.1f} J ({summary['energy_kwh']:.3g} kWh) · "
        f"avg {summary['avg_power_w']:.1f} W · peak {summary['peak_power_w']:.1f} W · {summary['scope']} scope"
    ]
    rows = [("component", "source", "energy (J)", "energy (kWh)", "avg power (W)")]
    for component in summary["components"]:
        average_w = component["energy_j"] / summary["duration_s"] if summary["duration_s"] > 0 else 0.0
        rows.append(
            (
                component["name"],
                component["source"],
                f"{component['energy_j']:.2f}",
                f"{component['energy_kwh']:.3g}",
                f"{average_w:.1f}",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append(f"log: {summary['log_path'] or 'not written'}  csv: {summary['csv_path'] or 'not written'}")
    return "\n".join(lines)
