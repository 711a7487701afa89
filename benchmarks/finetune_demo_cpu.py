"""Wall time, CPU time and validation ROUGE of the offline CPU demo's runs (`greentune demo`), per run and in total.

    .venv/bin/python benchmarks/finetune_demo_cpu.py [--seeds 42 1 7] [--out benchmarks/results]

For each seed, runs the demo's specs (MiniLM BERT2BERT on ACLSum: baseline,
freeze-embeddings, early stopping) with that seed, into a throw-away ledger,
and records per run: wall seconds, process CPU seconds, ROUGE per evaluation,
epochs run. The machine's load average before and after is recorded too: on a
shared machine wall time grows with the other load, CPU time much less.
Writes `results/finetune_demo_cpu.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from greentune.finetune import run
from greentune.finetune.demo import demo_specs


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    arguments = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in arguments.seeds:
            load_before = os.getloadavg()
            seed_started, seed_cpu = time.monotonic(), cpu_seconds()
            for spec in demo_specs(experiment=f"demo-seed-{seed}", tracking_uri=f"sqlite:///{folder}/mlflow.db"):
                spec = spec.model_copy(update={"train": spec.train.model_copy(update={"seed": seed})})
                started, cpu = time.monotonic(), cpu_seconds()
                record = run(spec)
                rows.append(
                    {
                        "seed": seed,
                        "run": record.run_name,
                        "wall_s": round(time.monotonic() - started, 1),
                        "cpu_s": round(cpu_seconds() - cpu, 1),
                        "rouge": record.rouge,
                        "eval_history": record.eval_history,
                        "epochs_run": record.epochs_run,
                        "epochs_budget": record.epochs_budget,
                        "energy_kwh": record.energy_kwh,
                        "energy_source": record.energy_source,
                        "phases_s": {phase.name: round(phase.duration_s, 1) for phase in record.phases},
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            rows.append(
                {
                    "seed": seed,
                    "run": "all (excluding process start-up)",
                    "wall_s": round(time.monotonic() - seed_started, 1),
                    "cpu_s": round(cpu_seconds() - seed_cpu, 1),
                    "load_average_before": load_before,
                    "load_average_after": os.getloadavg(),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    arguments.out.mkdir(parents=True, exist_ok=True)
    path = arguments.out / "finetune_demo_cpu.json"
    path.write_text(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                "runs": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
