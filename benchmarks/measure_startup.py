"""What `greentune measure` adds to a command's wall time: paired runs against the bare command.

    python benchmarks/measure_startup.py [--pairs 21] [--out benchmarks/results/]

Each pair runs the bare command (``python -c pass``) and
``greentune measure --json -- python -c pass`` back to back, in alternating
order (ABBA), and times both with `time.perf_counter` around
`subprocess.run`. Reported: the median of each and the median of the paired
differences (the added time), with the machine's CPU, core count and load
average at start and end, since a loaded machine inflates every figure.
greentune's bytecode is compiled first, as `pip install` does. With
``--compare-src DIR`` a third command, the same `measure` run from another
checkout's ``src`` (e.g. the version before the fast path), is timed in the
same pairs, for a before/after in one run.
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

import greentune
from greentune.meter.host import cpu_model_name

BARE = [sys.executable, "-c", "pass"]


def _timed(command: list[str], cwd: str, src: Path | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": str(src)} if src is not None else None
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=21)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--compare-src", type=Path, help="another checkout's src/ whose measure is timed too")
    args = parser.parse_args()
    compileall.compile_dir(str(Path(greentune.__file__).parent), quiet=1)
    if args.compare_src is not None:
        compileall.compile_dir(str(args.compare_src / "greentune"), quiet=1)
    measured = [sys.executable, "-c", "from greentune.cli.app import main; main()", "measure", "--json", "--", *BARE]
    load_start = os.getloadavg()
    bare_s, measured_s, compared_s = [], [], []
    with tempfile.TemporaryDirectory() as cwd:
        _timed(BARE, cwd), _timed(measured, cwd)  # warm the page cache
        for index in range(args.pairs):
            bare_first = index % 2 == 0
            if bare_first:
                bare_s.append(_timed(BARE, cwd))
            measured_s.append(_timed(measured, cwd))
            if args.compare_src is not None:
                compared_s.append(_timed(measured, cwd, args.compare_src))
            if not bare_first:
                bare_s.append(_timed(BARE, cwd))
    added_s = [m - b for m, b in zip(measured_s, bare_s, strict=True)]
    compared = (
        {
            "compare_src": str(args.compare_src),
            "compared_median_s": statistics.median(compared_s),
            "compared_added_median_s": statistics.median([c - b for c, b in zip(compared_s, bare_s, strict=True)]),
            "compared_s": compared_s,
        }
        if compared_s
        else {}
    )
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
        "bare_median_s": statistics.median(bare_s),
        "measured_median_s": statistics.median(measured_s),
        "added_median_s": statistics.median(added_s),
        "target_added_s": 0.100,
        "bare_s": bare_s,
        "measured_s": measured_s,
        **compared,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"measure_startup_{datetime.now(UTC):%Y%m%d}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"bare {result['bare_median_s'] * 1000:.0f} ms, measured {result['measured_median_s'] * 1000:.0f} ms, "
        f"added {result['added_median_s'] * 1000:.0f} ms (median of {args.pairs} pairs; "
        f"load {load_start[0]:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs) → {path}"
    )
    if compared:
        print(f"{args.compare_src}: added {compared['compared_added_median_s'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
