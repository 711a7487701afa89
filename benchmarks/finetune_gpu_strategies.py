"""Training throughput and energy per sample of BART-large-shaped fine-tuning under precision strategies, on a GPU.

Runs `examples/gpu-bart-large-shaped.yaml` (random-init BART-large, synthetic
SAMSum-like lengths, no downloads) through greentune's own runner three times —
fp32, bf16, bf16 + group_by_length — and writes, per strategy, samples/s of the
optimisation steps and joules per training sample (all metered components:
GPU, CPU, RAM) to `benchmarks/results/finetune_gpu_strategies_<device>_<date>.json`.

    python benchmarks/finetune_gpu_strategies.py [--samples 4096] [--out benchmarks/results] [--set KEY=VALUE ...]

``--set`` overrides the example's spec for every run (e.g. ``model.tokenizer=.gpu_box/tokenizer`` where the
built-in MiniLM package is not installed); each strategy's own settings are applied after it.

Needs a CUDA GPU (bf16: Ampere or newer) and greentune importable (installed, or PYTHONPATH=src as
benchmarks/gpu_box/run.sh sets it).
Each run is recorded in a throw-away SQLite ledger under a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from greentune.errors import GreentuneError
from greentune.finetune import load_spec, run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gpu-bart-large-shaped.yaml"
JOULES_PER_KWH = 3.6e6
STRATEGIES: dict[str, list[str]] = {
    "fp32": ["strategies.precision=fp32"],
    "bf16": ["strategies.precision=bf16"],
    "bf16+group_by_length": ["strategies.precision=bf16", "strategies.group_by_length=true"],
}


def measure(name: str, overrides: list[str], samples: int, folder: Path, settings: list[str]) -> dict[str, object]:
    """Run one strategy (after the user's ``--set`` settings); return its throughput and energy per training sample."""
    spec = load_spec(
        EXAMPLE,
        [
            *settings,
            *overrides,
            f"data.synthetic_samples={samples}",
            f"ledger.tracking_uri=sqlite:///{folder / 'mlflow.db'}",
            f"ledger.run_name=bench-{name}",
        ],
    )
    record = run(spec, runs_dir=folder / "runs")
    train = next(phase for phase in record.phases if phase.name == "train")
    trained_samples = (record.samples_per_s or 0.0) * train.duration_s
    return {
        "strategy": name,
        "samples_per_s": record.samples_per_s,
        "tokens_per_s": record.tokens_per_s,
        "train_duration_s": train.duration_s,
        "train_energy_kwh": train.energy_kwh,
        "joules_per_sample": train.energy_kwh * JOULES_PER_KWH / trained_samples if trained_samples else None,
        "run_energy_kwh": record.energy_kwh,
        "energy_source": record.energy_source,
        "components_kwh": {component.name: component.energy_kwh for component in record.components},
        "peak_vram_bytes": record.peak_vram_bytes,
        "avg_gpu_util_pct": record.avg_gpu_util_pct,
        "batch_size": record.strategies.get("batch_size_used"),
        "data_report_train_source_mean_tokens": record.data_report.get("train", {})
        .get("source", {})
        .get("mean_tokens"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096, help="synthetic training samples per run")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override the example's spec for every run (repeatable), e.g. model.tokenizer=PATH",
    )
    arguments = parser.parse_args()
    try:
        load_spec(EXAMPLE, arguments.settings)  # a wrong --set fails here, before any GPU work
    except GreentuneError as error:
        raise SystemExit(f"finetune_gpu_strategies: {error}") from None

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    device = torch.cuda.get_device_name(0)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name, overrides in STRATEGIES.items():
            results.append(measure(name, overrides, arguments.samples, Path(folder), arguments.settings))
            print(json.dumps(results[-1]), flush=True)
    fp32 = results[0]
    for result in results:
        if fp32["samples_per_s"] and result["samples_per_s"]:
            result["speedup_vs_fp32"] = result["samples_per_s"] / fp32["samples_per_s"]
        if fp32["joules_per_sample"] and result["joules_per_sample"]:
            result["energy_per_sample_vs_fp32"] = result["joules_per_sample"] / fp32["joules_per_sample"]
    arguments.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    slug = re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-")
    path = arguments.out / f"finetune_gpu_strategies_{slug}_{stamp:%Y%m%d}.json"
    path.write_text(
        json.dumps(
            {
                "device": device,
                "date": stamp.isoformat(),
                "example": EXAMPLE.name,
                "samples": arguments.samples,
                "settings": arguments.settings,
                "torch": torch.__version__,
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
