"""What `greentune measure` adds to a command's wall time: paired runs against the bare command.

    python benchmarks/measure_startup.py [--pairs 21] [--out benchmarks/results/] [--compare-src OTHER/src]

Two commands, each timed bare and as ``greentune measure --json -- CMD``:
``python -c pass`` (the shortest command there is: it ends before the meter's
imports do) and ``python -c "import time; time.sleep(0.3)"`` (a command that
outlives them, so only what measure does before starting it and after it
ends is added). Each pair runs the bare and the measured command back to
back, in alternating order (ABBA), timed with `time.perf_counter` around
`subprocess.run`. Reported per command: the median of each and the median of
the paired differences (the added time), with the machine's CPU, core count
and load average at start and end, since a loaded machine inflates every
figure. greentune's bytecode is compiled first, as `pip install` does. With
``--compare-src DIR`` the same `measure` run from another checkout's ``src``
(e.g. the version before a change) is timed in the same pairs, for a
before/after in one run.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import greentune
from greentune.meter.host import cpu_model_name

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python sleeping 0.3 s": [sys.executable, "-c", "import time; time.sleep(0.3)"],
}
TARGET_ADDED_S = 0.100


def _timed(command: list[str], cwd: str, src: Path | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def _paired(bare: list[str], cwd: str, pairs: int, compare_src: Path | None) -> dict[str, Any]:
    """Medians of `bare` and of it under `greentune measure` (and under another checkout's measure)."""
    measured = [sys.executable, "-c", "from greentune.cli.app import main; main()", "measure", "--json", "--", *bare]
    _timed(bare, cwd), _timed(measured, cwd)  # warm the page cache
    bare_s: list[float] = []
    measured_s: list[float] = []
    compared_s: list[float] = []
    for index in range(pairs):
        bare_first = index % 2 == 0
        if bare_first:
            bare_s.append(_timed(bare, cwd))
        measured_s.append(_timed(measured, cwd))
        if compare_src is not None:
            compared_s.append(_timed(measured, cwd, compare_src))
        if not bare_first:
            bare_s.append(_timed(bare, cwd))
    result: dict[str, Any] = {
        "bare_median_s": statistics.median(bare_s),
        "measured_median_s": statistics.median(measured_s),
        "added_median_s": statistics.median([m - b for m, b in zip(measured_s, bare_s, strict=True)]),
        "bare_s": bare_s,
        "measured_s": measured_s,
    }
    if compared_s:
        result["compared_median_s"] = statistics.median(compared_s)
        result["compared_added_median_s"] = statistics.median([c - b for c, b in zip(compared_s, bare_s, strict=True)])
        result["compared_s"] = compared_s
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=21)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--compare-src", type=Path, help="another checkout's src/ whose measure is timed too")
    args = parser.parse_args()
    compileall.compile_dir(str(Path(greentune.__file__).parent), quiet=1)
    if args.compare_src is not None:
        compileall.compile_dir(str(args.compare_src / "greentune"), quiet=1)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as cwd:
        commands = {name: _paired(bare, cwd, args.pairs, args.compare_src) for name, bare in COMMANDS.items()}
    result = {
        "benchmark": "measure_startup",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "host": socket.gethostname(),
            "cpu_model": cpu_model_name(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_start": load_start,
            "load_average_end": os.getloadavg(),
        },
        "pairs": args.pairs,
        "target_added_s": TARGET_ADDED_S,
        "compare_src": None if args.compare_src is None else str(args.compare_src),
        "commands": commands,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"measure_startup_{datetime.now(UTC):%Y%m%dT%H%M}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for name, figures in commands.items():
        compared = (
            f"; {args.compare_src}: added {figures['compared_added_median_s'] * 1000:.0f} ms"
            if "compared_added_median_s" in figures
            else ""
        )
        print(
            f"{name}: bare {figures['bare_median_s'] * 1000:.0f} ms, measured {figures['measured_median_s'] * 1000:.0f}"
            f" ms, added {figures['added_median_s'] * 1000:.0f} ms{compared}"
        )
    print(f"median of {args.pairs} pairs; load {load_start[0]:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"→ {path}")


if __name__ == "__main__":
    main()
