"""Grid vs random + ASHA vs PBT on ACLSum/MiniLM on this CPU, each under the same energy budget, in one run.

    nice -n 10 python benchmarks/sweep_cpu.py [--budget-kwh 0.01] [--target-rouge1 15] [--out benchmarks/results]

For each search: total kWh (trials + idle), waste share (energy of pruned,
exploited, failed or budget-stopped trials over the total), energy-to-target
(kWh until a trial first reported validation ROUGE-1 ≥ target), best ROUGE-1
and the best configuration's own kWh. The three sweeps share one local Ray
(num_cpus=2) and one ledger under a temporary folder; results go to
results/sweep_cpu_<date>.json with the machine, its load average before and
after, and the date. A shared machine's load changes wall time and, under
`meter.scope: machine`, the estimated energy: read the ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE: dict[str, Any] = {
    "model": {"name": "minilm-bert2bert"},
    "data": {
        "name": "aclsum",
        "sections": ["abstract"],
        "max_source_tokens": 96,
        "max_target_tokens": 48,
        "max_train_samples": 48,
        "max_eval_samples": 12,
    },
    "strategies": {"batch_size": 8},
    "train": {"epochs": 2, "seed": 42, "eval_batch_size": 12, "save_checkpoints": False, "threads": 1},
    "generate": {"num_beams": 1, "min_new_tokens": 10, "max_new_tokens": 24, "no_repeat_ngram_size": 3},
    "meter": {"scope": "process"},
}
LEARNING_RATES = [2e-5, 2e-4, 1e-3]


def searches(budget_kwh: float, target: float) -> dict[str, dict[str, Any]]:
    """The three sweeps, the same space of learning rates, budget and target."""
    common = {"budget": {"kwh": budget_kwh}, "target_rouge1": target}
    return {
        "grid": {
            "space": {"train.learning_rate": {"grid": LEARNING_RATES}},
            "search": {"algorithm": "grid", "num_samples": 1, "max_concurrent": 1},
            "scheduler": {"kind": "none", "metric": "rouge1"},
            **common,
        },
        "random+asha": {
            "space": {"train.learning_rate": {"choice": LEARNING_RATES}},
            "search": {"algorithm": "random", "num_samples": 3, "max_concurrent": 1, "seed": 1},
            "scheduler": {"kind": "asha", "metric": "rouge1", "grace_period": 1, "reduction_factor": 2},
            **common,
        },
        "pbt": {
            "space": {"train.learning_rate": {"choice": LEARNING_RATES}},
            "search": {"algorithm": "random", "num_samples": 2, "max_concurrent": 2, "seed": 1},
            "scheduler": {"kind": "pbt", "metric": "rouge1", "perturbation_interval": 1, "quantile_fraction": 0.5},
            **common,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-kwh", type=float, default=0.01)
    parser.add_argument("--target-rouge1", type=float, default=15.0)
    parser.add_argument("--only", choices=["grid", "random+asha", "pbt"], action="append")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    from greentune.sweep.spec import validate_sweep
    from greentune.sweep.tune import SweepRequest, init_ray, run_sweep

    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        init_ray(local_cpus=2)
        for name, search in searches(args.budget_kwh, args.target_rouge1).items():
            if args.only and name not in args.only:
                continue
            base = json.loads(json.dumps(BASE))
            base["ledger"] = {"tracking_uri": f"sqlite:///{root / 'mlflow.db'}", "experiment": f"bench-{name}"}
            sweep = validate_sweep({"name": name.replace("+", "-"), "base": base, **search})
            started = time.monotonic()
            record = run_sweep(SweepRequest(sweep=sweep, runs_dir=root / "runs"))
            footprint = record.sweep
            assert footprint is not None
            results[name] = {
                "wall_s": round(time.monotonic() - started, 1),
                "status": record.status,
                "total_kwh": record.energy_kwh,
                "trials_kwh": footprint.trials_kwh,
                "idle_kwh": footprint.idle_kwh,
                "idle_s": footprint.idle_s,
                "wasted_kwh": footprint.wasted_kwh,
                "wasted_share": footprint.wasted_share,
                "energy_to_target_kwh": footprint.energy_to_target_kwh,
                "best_rouge1": footprint.best_rouge1,
                "best_config": footprint.best_config,
                "best_energy_kwh": footprint.best_energy_kwh,
                "emissions_gco2eq": record.emissions_gco2eq,
                "trials": [
                    {
                        "trial": t.trial_id,
                        "segment": t.segment,
                        "status": t.status.value,
                        "kwh": t.energy_kwh,
                        "rouge1": t.rouge1,
                        "config": t.config,
                        "donor": t.donor_trial_id,
                    }
                    for t in footprint.trials
                ],
                "budget": [b.model_dump() for b in footprint.budgets],
            }
            print(name, json.dumps(results[name], default=str))
        import ray

        ray.shutdown()
    now = datetime.now(UTC)
    payload = {
        "benchmark": "sweep_cpu",
        "date": now.isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "note": "shared machine: ~8 engineers ran tests at the same time; the meter charged this process tree only "
            "(meter.scope process), but wall time and idle time depend on the others' load",
        },
        "settings": {
            "budget_kwh": args.budget_kwh,
            "target_rouge1": args.target_rouge1,
            "base": BASE,
            "learning_rates": LEARNING_RATES,
        },
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sweep_cpu_{now:%Y%m%d}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
