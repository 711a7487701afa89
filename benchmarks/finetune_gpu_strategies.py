"""Training throughput, energy per sample and MFU of BART-large-shaped fine-tuning under strategies, on a GPU.

Runs `examples/gpu-bart-large-shaped.yaml` (random-init BART-large, synthetic
SAMSum-like lengths, no downloads) through greentune's own runner, same data,
same run, for each configuration:

- `hf-defaults`: what the HF Seq2SeqTrainer does with default arguments (fp32, batch 8);
- `hf-common-flags`: bf16, batch 64, group_by_length;
- `frugal`: greentune's recipe (`strategies.recipe: frugal`: bf16, token-budget batches,
  fused AdamW, SDPA, torch.compile, DataLoader workers);
- `frugal+power-<objective>`: the recipe with `strategies.power_limit: auto` under each
  objective (energy, time, energy within 10 % slowdown);
- with `--seed-case`: the seed's case end to end (3 epochs of SAMSum's 14,732 training
  samples + one validation pass with generation on 818 samples) under the recipe.

Per configuration: samples/s of the optimisation steps, joules per training sample (all
metered components and the GPU alone), MFU from an honest encoder-decoder FLOPs count
(`greentune.finetune.flops`; the Trainer's `total_flos` is reported beside it), peak
VRAM, the chosen power limit. Ratios are against `hf-defaults` of the same run. Writes
`benchmarks/results/finetune_gpu_strategies_<device>_<date>.json`.

    python benchmarks/finetune_gpu_strategies.py [--samples 4096] [--only NAME ...] [--seed-case] [--set KEY=VALUE ...]

``--set`` overrides the example's spec for every run (e.g. ``model.tokenizer=.gpu_box/tokenizer`` where the
built-in MiniLM package is not installed); each configuration's own settings are applied after it.

Needs a CUDA GPU (bf16: Ampere or newer) and greentune importable (installed, or PYTHONPATH=src as
benchmarks/gpu_box/run.sh sets it). Power limits need root on the GPU machine; without it the power
configurations run at the default limit and their note says so. Each run is recorded in a throw-away
SQLite ledger under a temporary folder.
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
# Few profile steps per limit and 100 W between limits, so that profiling ends within the first epoch.
_FRUGAL = ["strategies.recipe=frugal", "strategies.token_budget=65536"]  # the example's batch_size would win
_POWER = [*_FRUGAL, "data.synthetic_samples=16384", "strategies.power_limit=auto", "strategies.power_profile.warmup_steps=5",
          "strategies.power_profile.profile_steps=5", "strategies.power_profile.step_w=100"]  # fmt: skip
STRATEGIES: dict[str, list[str]] = {
    "hf-defaults": ["strategies.precision=fp32", "strategies.batch_size=8"],
    "hf-common-flags": ["strategies.precision=bf16", "strategies.batch_size=64", "strategies.group_by_length=true"],
    "frugal": _FRUGAL,
    "frugal+power-energy": [*_POWER, "strategies.power_profile.objective=energy"],
    "frugal+power-time": [*_POWER, "strategies.power_profile.objective=time"],
    "frugal+power-within-10pct": [*_POWER, "strategies.power_profile.objective=energy-within-slowdown"],
}
SEED_CASE = [
    *_FRUGAL,
    "data.synthetic_samples=14732",
    "data.max_eval_samples=818",
    "train.epochs=3",
]


def measure(name: str, overrides: list[str], samples: int, folder: Path, settings: list[str]) -> dict[str, object]:
    """Run one configuration (after the user's ``--set`` settings); return throughput, energy and MFU."""
    from greentune.finetune.flops import EncoderDecoderShape, model_flops_utilization, training_flops

    spec = load_spec(
        EXAMPLE,
        [
            *settings,
            f"data.synthetic_samples={samples}",
            *overrides,
            f"ledger.tracking_uri=sqlite:///{folder / 'mlflow.db'}",
            f"ledger.run_name=bench-{name}",
        ],
    )
    record = run(spec)
    train = next(phase for phase in record.phases if phase.name == "train")
    trained_samples = (record.samples_per_s or 0.0) * train.duration_s
    gpu_kwh = sum(component.energy_kwh for component in record.components if component.name.startswith("gpu"))
    lengths = record.data_report.get("train", {})
    source_tokens = min(lengths["source"]["mean_tokens"], spec.data.max_source_tokens)
    target_tokens = min(lengths["target"]["mean_tokens"], spec.data.max_target_tokens)
    shape = EncoderDecoderShape.from_config(_bart_config(spec.model.config_overrides))
    flops = training_flops(shape, round(source_tokens), round(target_tokens)) * trained_samples
    peak = _peak_tflops(record.hardware)
    return {
        "strategy": name,
        "label": record.strategies.get("label"),
        "samples_per_s": record.samples_per_s,
        "tokens_per_s": record.tokens_per_s,
        "train_duration_s": train.duration_s,
        "run_duration_s": record.duration_s,
        "train_energy_kwh": train.energy_kwh,
        "joules_per_sample": train.energy_kwh * JOULES_PER_KWH / trained_samples if trained_samples else None,
        "run_energy_kwh": record.energy_kwh,
        "run_gpu_energy_wh": gpu_kwh * 1000,
        "energy_source": record.energy_source,
        "components_kwh": {component.name: component.energy_kwh for component in record.components},
        "train_flops_counted": flops,
        "trainer_total_flos": record.total_flos,
        "mfu_bf16": model_flops_utilization(flops, train.duration_s, peak[1]) if peak and train.duration_s else None,
        "mfu_note": "FLOPs from mean source/target lengths (the quadratic attention terms are slightly low)",
        "peak_vram_bytes": record.peak_vram_bytes,
        "avg_gpu_util_pct": record.avg_gpu_util_pct,
        "batch_size": record.strategies.get("batch_size_used"),
        "train_batching": record.data_report.get("train_batching"),
        "power_limit": record.power_limit.model_dump() if record.power_limit else None,
        "notes": record.notes,
        "rouge": record.rouge,
    }


def _peak_tflops(hardware: str) -> tuple[str, float] | None:
    """Peak bf16 TFLOP/s of the record's device ('gpu: NVIDIA H200 x1'), None when the table has none."""
    from greentune.carbon import lookup_hardware

    try:
        return lookup_hardware(hardware.split(": ", 1)[1].rsplit(" x", 1)[0]).peak("bf16")
    except GreentuneError:
        return None


def _bart_config(overrides: dict[str, object]) -> object:
    from transformers import BartConfig

    return BartConfig(**overrides)


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
    parser.add_argument("--only", action="append", default=[], choices=sorted(STRATEGIES), help="run only these")
    parser.add_argument("--seed-case", action="store_true", help="also run the seed case end to end (minutes)")
    arguments = parser.parse_args()
    try:
        load_spec(EXAMPLE, arguments.settings)  # a wrong --set fails here, before any GPU work
    except GreentuneError as error:
        raise SystemExit(f"finetune_gpu_strategies: {error}") from None

    import torch

    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    device = torch.cuda.get_device_name(0)
    chosen = {name: overrides for name, overrides in STRATEGIES.items() if not arguments.only or name in arguments.only}
    if arguments.seed_case:
        chosen["seed-case-frugal"] = SEED_CASE
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name, overrides in chosen.items():
            results.append(measure(name, overrides, arguments.samples, Path(folder), arguments.settings))
            print(json.dumps(results[-1], default=str), flush=True)
    baseline = next((result for result in results if result["strategy"] == "hf-defaults"), None)
    for result in results if baseline else []:
        assert baseline is not None
        if baseline["samples_per_s"] and result["samples_per_s"]:
            result["speedup_vs_hf_defaults"] = result["samples_per_s"] / baseline["samples_per_s"]
        if baseline["joules_per_sample"] and result["joules_per_sample"]:
            result["energy_per_sample_vs_hf_defaults"] = result["joules_per_sample"] / baseline["joules_per_sample"]
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
            default=str,
        )
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
