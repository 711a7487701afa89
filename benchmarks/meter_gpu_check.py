"""Validate greentune's meter on an NVIDIA GPU: energy vs raw NVML counters, sampling overhead, CodeCarbon side by side.

Run from the repository root of a GPU machine:

    python benchmarks/meter_gpu_check.py --out benchmarks/results/

Needs torch (CUDA build), transformers and nvidia-ml-py; codecarbon and
psutil are optional, greentune is taken from ./src when not installed.
Nothing is downloaded: a BART-large-shaped model (transformers' default
BartConfig: 12+12 layers, d_model 1024, 406 M parameters) gets random
weights and trains on random tokens under bf16 autocast with AdamW.

About 60 s of GPU work (``--seconds``), in four phases:

1. warm-up (kernels, allocator, optimizer state) — not measured;
2. overhead: pairs of blocks of training steps, one with no meter at all and
   one with a running `Meter` sampling every 100 ms (the sensors a user gets:
   NVML, plus RAPL and the host model when available) and a window around
   the block, the order swapped every pair (ABBA) so that a drift in clocks
   or temperature cancels; ``overhead_pct`` = the median over pairs of
   (step time with − without) / without, all from the same run;
3. agreement: one meter window around training steps, and the GPU's energy
   counter read directly with pynvml just outside it;
   ``counter_agreement_pct`` = (window GPU energy − counter delta) / delta.
   A second meter, whose sensor ignores the counter and integrates power
   samples, reports ``power_integration_agreement_pct`` (the fallback path
   for GPUs without the counter; no target);
4. CodeCarbon: the same steps with codecarbon's OfflineEmissionsTracker and
   our meter at once, each compared with the raw counter over its own span
   (recorded as skipped when codecarbon is not installed).

Writes ``<out>/meter_gpu_<device>_<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import greentune.meter  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from greentune.meter import Meter
from greentune.meter.nvml import NvmlSensor, PynvmlDevice
from greentune.meter.nvml import detect as detect_nvml

TARGET_ABS_COUNTER_AGREEMENT_PCT = 1.0
TARGET_OVERHEAD_PCT = 0.5


def main() -> None:
    """Parse arguments, run the four phases, write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for the JSON result")
    parser.add_argument("--seconds", type=float, default=60.0, help="GPU work in total, seconds")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--source-tokens", type=int, default=512)
    parser.add_argument("--target-tokens", type=int, default=128)
    parser.add_argument("--interval-ms", type=int, default=100, help="meter sampling period")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        sys.exit("meter_gpu_check: no CUDA GPU visible to torch; run this on a GPU machine")
    detection = detect_nvml()
    if detection.sensor is None:
        sys.exit(f"meter_gpu_check: {detection.detail}; {detection.advice}")
    gpu = detection.sensor.devices[0]  # the GPU torch calls cuda:0
    if not gpu.has_energy_counter:
        sys.exit(f"meter_gpu_check: {gpu.model} has no NVML energy counter; nothing to compare against")

    step = build_training_step(args.batch_size, args.source_tokens, args.target_tokens)
    budget_s = args.seconds
    result: dict[str, Any] = {
        "device": gpu.model,
        "date": datetime.date.today().isoformat(),
        "workload": {
            "model": "BART-large shape (transformers BartConfig defaults), random weights",
            "precision": "bf16 autocast, fp32 weights, AdamW",
            "batch_size": args.batch_size,
            "source_tokens": args.source_tokens,
            "target_tokens": args.target_tokens,
        },
        "interval_ms": args.interval_ms,
        "versions": versions(),
    }

    warmup_step_s = run_for(step, 0.1 * budget_s)
    result["warmup_step_s"] = warmup_step_s
    result["overhead"] = measure_overhead(step, warmup_step_s, 0.5 * budget_s, args.interval_ms)
    result["agreement"] = measure_agreement(step, gpu, 0.25 * budget_s, args.interval_ms)
    result["codecarbon"] = compare_codecarbon(step, gpu, 0.15 * budget_s, args.interval_ms)

    result["counter_agreement_pct"] = result["agreement"]["counter_agreement_pct"]
    result["overhead_pct"] = result["overhead"]["overhead_pct"]
    result["targets"] = {
        "abs_counter_agreement_pct": TARGET_ABS_COUNTER_AGREEMENT_PCT,
        "overhead_pct": TARGET_OVERHEAD_PCT,
    }
    result["passed"] = {
        "counter_agreement": abs(result["counter_agreement_pct"]) <= TARGET_ABS_COUNTER_AGREEMENT_PCT,
        "overhead": result["overhead_pct"] <= TARGET_OVERHEAD_PCT,
    }
    detection.sensor.close()

    args.out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", gpu.model.lower()).strip("-")
    path = args.out / f"meter_gpu_{slug}_{result['date']}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("device", "counter_agreement_pct", "overhead_pct", "passed")}))
    print(f"wrote {path}")


def build_training_step(batch_size: int, source_tokens: int, target_tokens: int) -> Callable[[], None]:
    """One optimizer step of a randomly initialised BART-large-shaped model on random tokens."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    config = BartConfig()
    model = BartForConditionalGeneration(config).to("cuda").train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    input_ids = torch.randint(4, config.vocab_size, (batch_size, source_tokens), device="cuda")
    labels = torch.randint(4, config.vocab_size, (batch_size, target_tokens), device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=input_ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def run_steps(step: Callable[[], None], steps: int) -> float:
    """Seconds for ``steps`` steps, the GPU synchronised at both ends."""
    import torch

    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def run_for(step: Callable[[], None], seconds: float) -> float:
    """Run steps for about ``seconds`` (at least 3); return the mean step time of the last half."""
    import torch

    torch.cuda.synchronize()
    deadline = time.perf_counter() + seconds
    durations = []
    while time.perf_counter() < deadline or len(durations) < 3:
        durations.append(run_steps(step, 1))
    return statistics.mean(durations[len(durations) // 2 :])


def measure_overhead(step: Callable[[], None], step_s: float, seconds: float, interval_ms: int) -> dict[str, Any]:
    """Pairs of blocks without and with a sampling meter, in ABBA order; the median relative difference."""
    pairs = 6
    steps_per_block = max(5, int(seconds / (2 * pairs) / step_s))
    without_s: list[float] = []
    with_s: list[float] = []
    sensor_names: list[str] = []

    def metered_block() -> float:
        nonlocal sensor_names
        with Meter(interval_ms=interval_ms) as meter:  # autodetected sensors, as a user gets them
            sensor_names = [sensor.name for sensor in meter.sensors]
            torch_sync()
            start = time.perf_counter()
            with meter.window("block"):
                for _ in range(steps_per_block):
                    step()
                torch_sync()
            return (time.perf_counter() - start) / steps_per_block

    for pair in range(pairs):
        if pair % 2 == 0:
            without_s.append(run_steps(step, steps_per_block) / steps_per_block)
            with_s.append(metered_block())
        else:
            with_s.append(metered_block())
            without_s.append(run_steps(step, steps_per_block) / steps_per_block)
    pair_pct = [(metered - bare) / bare * 100 for bare, metered in zip(without_s, with_s, strict=True)]
    mean_without = statistics.mean(without_s)
    return {
        "overhead_pct": statistics.median(pair_pct),
        "overhead_pct_per_pair": pair_pct,
        "overhead_pct_of_means": (statistics.mean(with_s) - mean_without) / mean_without * 100,
        "step_s_without_meter": without_s,
        "step_s_with_meter": with_s,
        "noise_pct": statistics.stdev(without_s) / mean_without * 100,
        "steps_per_block": steps_per_block,
        "sensors": sensor_names,
    }


def measure_agreement(step: Callable[[], None], gpu: PynvmlDevice, seconds: float, interval_ms: int) -> dict[str, Any]:
    """A window's GPU energy vs the raw counter delta, and the power-integration path vs the same delta."""
    counter = Meter(interval_ms=interval_ms, sensors=[NvmlSensor([gpu])])
    integrating = Meter(
        interval_ms=interval_ms, sensors=[NvmlSensor([PynvmlDevice(gpu.handle, gpu.model, has_energy_counter=False)])]
    )
    with counter, integrating:
        torch_sync()
        raw_start_mj = gpu.total_energy_mj()
        counter.begin_window("agreement")
        integrating.begin_window("agreement")
        run_for(step, seconds)
        torch_sync()
        integrated = integrating.end_window("agreement")
        measured = counter.end_window("agreement")
        raw_end_mj = gpu.total_energy_mj()
    raw_j = (raw_end_mj - raw_start_mj) / 1000.0
    return {
        "counter_agreement_pct": (measured.energy_j - raw_j) / raw_j * 100,
        "power_integration_agreement_pct": (integrated.energy_j - raw_j) / raw_j * 100,
        "raw_counter_delta_j": raw_j,
        "window_energy_j": measured.energy_j,
        "integrated_energy_j": integrated.energy_j,
        "duration_s": measured.duration_s,
        "avg_power_w": measured.avg_power_w,
        "peak_power_w": measured.peak_power_w,
        "avg_gpu_util_pct": measured.avg_gpu_util_pct,
        "peak_vram_bytes": measured.peak_vram_bytes,
        "timeline_samples": len(counter.timeline()),
    }


def compare_codecarbon(step: Callable[[], None], gpu: PynvmlDevice, seconds: float, interval_ms: int) -> dict[str, Any]:
    """The same steps measured by CodeCarbon's offline tracker and our meter at once, with the raw counter."""
    try:
        import codecarbon
        from codecarbon import OfflineEmissionsTracker
    except ImportError:
        return {"status": "skipped: codecarbon is not installed"}
    try:
        tracker = OfflineEmissionsTracker(
            country_iso_code="USA",
            measure_power_secs=1,
            save_to_file=False,
            log_level="error",
            allow_multiple_runs=True,
            gpu_ids=[0],
        )
        with Meter(interval_ms=interval_ms) as meter:
            torch_sync()
            raw_mj = [gpu.total_energy_mj()]  # before tracker.start, around our window, after tracker.stop
            tracker.start()
            raw_mj.append(gpu.total_energy_mj())
            meter.begin_window("codecarbon")
            run_for(step, seconds)
            torch_sync()
            ours = meter.end_window("codecarbon")
            raw_mj.append(gpu.total_energy_mj())
            tracker.stop()
            raw_mj.append(gpu.total_energy_mj())
    except Exception as error:  # a third-party tool failing must not lose the other results
        return {"status": f"failed: {type(error).__name__}: {error}"}
    data = getattr(tracker, "final_emissions_data", None)
    if data is None:  # codecarbon's stop() swallows its own errors
        return {"status": "failed: codecarbon recorded nothing (rerun it with log_level='debug' to see why)"}
    ours_raw_kwh = (raw_mj[2] - raw_mj[1]) / 3.6e9
    tracker_raw_kwh = (raw_mj[3] - raw_mj[0]) / 3.6e9
    ours_by_kind = {kind: ours.energy_j_of(kind) / 3.6e6 for kind in ("gpu", "cpu", "ram")}
    return {
        "status": "ran",
        "codecarbon_version": codecarbon.__version__,
        "raw_counter_gpu_kwh_over_our_window": ours_raw_kwh,
        "raw_counter_gpu_kwh_from_tracker_start_to_stop": tracker_raw_kwh,
        "greentune": {
            "duration_s": ours.duration_s,
            "gpu_kwh": ours_by_kind["gpu"],
            "cpu_kwh": ours_by_kind["cpu"],
            "ram_kwh": ours_by_kind["ram"],
            "sources": {c.name: c.source for c in ours.components},
        },
        "codecarbon": {
            "duration_s": data.duration,
            "gpu_kwh": data.gpu_energy,
            "cpu_kwh": data.cpu_energy,
            "ram_kwh": data.ram_energy,
        },
        "codecarbon_gpu_vs_counter_pct": (data.gpu_energy - tracker_raw_kwh) / tracker_raw_kwh * 100,
        "greentune_gpu_vs_counter_pct": (ours_by_kind["gpu"] - ours_raw_kwh) / ours_raw_kwh * 100,
    }


def torch_sync() -> None:
    """Wait for queued GPU work."""
    import torch

    torch.cuda.synchronize()


def versions() -> dict[str, str]:
    """Versions of what produced the numbers."""
    import pynvml
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": str(torch.version.cuda),
        "transformers": transformers.__version__,
        "nvidia_driver": str(pynvml.nvmlSystemGetDriverVersion()),
    }


if __name__ == "__main__":
    main()
