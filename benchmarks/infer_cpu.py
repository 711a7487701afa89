"""J/summary, latency and quality of every inference backend on this machine (`greentune.infer.bench`).

    .venv/bin/python benchmarks/infer_cpu.py [--samples 16] [--bart-samples 8] [--max-new-tokens 32]
        [--max-input-tokens 256] [--batch-sizes 1 16] [--beams 1 4] [--bart-batch-sizes 1 16] [--bart-beams 1 4]

Two models, each over the grid backend × precision (each backend's default
grid) × greedy/4 beams × batch 1/16, every configuration in its own meter window:
- the built-in MiniLM BERT2BERT on ACLSum validation (quality and speed;
  CTranslate2 does not convert an EncoderDecoderModel: a row with its reason);
- a random-init BART-base-shaped model (6+6 layers, d_model 768, the MiniLM
  vocabulary) saved as a folder — the BART path's speed and energy, CTranslate2
  included; its summaries are noise, so only exact match against eager means
  anything for quality there.
On a GPU machine the same grid also runs on `cuda` (eager fp16/bf16, ONNX
Runtime's CUDA provider where installed, CTranslate2 float16). The meter's
`process` scope is used: on a shared CPU only this process's CPU time is
charged (host estimate where RAPL is missing). Ratios are within one run; the
machine's load average is written beside them. Writes `results/infer_cpu.json`
after each model, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greentune.infer.bench import BenchRequest, BenchResult, run_bench

BART_BASE = {
    "d_model": 768,
    "encoder_layers": 6,
    "decoder_layers": 6,
    "encoder_attention_heads": 12,
    "decoder_attention_heads": 12,
    "encoder_ffn_dim": 3072,
    "decoder_ffn_dim": 3072,
    "max_position_embeddings": 1024,
}


def bart_base_folder(root: Path) -> str:
    """A random-init BART-base-shaped model with the MiniLM tokenizer, saved under `root`."""
    import torch

    from greentune.finetune.models import load_model
    from greentune.finetune.spec import ModelConfig

    torch.manual_seed(0)
    loaded = load_model(
        ModelConfig(name="bart", random_init=True, tokenizer="minilm-bert2bert", config_overrides=BART_BASE)
    )
    loaded.model.save_pretrained(root)
    loaded.tokenizer.save_pretrained(root)
    return str(root)


def goal(result: BenchResult) -> list[dict[str, Any]]:
    """Per workload: the best row with ROUGE-1 within 0.5 and its J/summary ratio to eager fp32."""
    verdicts = []
    references = [row for row in result.rows if row.is_reference and row.j_per_summary]
    for reference in references:
        same = [
            row
            for row in result.rows
            if row.supported
            and row.j_per_summary
            and row.config.same_workload(reference.config)
            and row.rouge1_delta is not None
            and row.rouge1_delta >= -0.5
        ]
        best = min(same, key=lambda row: row.j_per_summary or 0.0)
        verdicts.append(
            {
                "workload": f"batch {reference.config.batch_size} beams {reference.config.num_beams} {reference.config.device}",
                "best": best.config.label,
                "eager_fp32_j_per_summary": reference.j_per_summary,
                "best_j_per_summary": best.j_per_summary,
                "ratio": (reference.j_per_summary or 0.0) / (best.j_per_summary or 1.0),
                "best_rouge1_delta": best.rouge1_delta,
                "best_exact_match_share": best.exact_match_share,
                "meets_3x": (reference.j_per_summary or 0.0) >= 3 * (best.j_per_summary or 0.0),
            }
        )
    return verdicts


def markdown(name: str, result: BenchResult) -> str:
    """A table of the rows for benchmarks/README.md."""
    lines = [
        f"**{name}** ({result.samples} samples)",
        "",
        "| backend | precision | batch | beams | J/summary | × vs eager | summ/s | p95 ms | ΔROUGE-1 | exact |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result.rows:
        c = row.config
        head = f"| {c.backend} | {c.precision} | {c.batch_size} | {c.num_beams} |"
        if row.reason:
            lines.append(f"{head} — | — | — | — | — | {row.reason} |")
            continue
        reference = next(r for r in result.rows if r.is_reference and r.config.same_workload(c))
        ratio = (reference.j_per_summary or 0.0) / (row.j_per_summary or 1.0)
        lines.append(
            f"{head} {row.j_per_summary:.3g} | {ratio:.2f} | {row.summaries_per_s:.3g} | {row.latency_p95_ms:.0f} | "
            f"{row.rouge1_delta:+.2f} | {100 * (row.exact_match_share or 0):.0f} % |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16, help="ACLSum validation examples for MiniLM")
    parser.add_argument("--bart-samples", type=int, default=8, help="examples for the BART-base-shaped model")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-input-tokens", type=int, default=256)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--beams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--bart-batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--bart-beams", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--models", nargs="+", default=["minilm", "bart-base-random"])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "infer_cpu.json")
    arguments = parser.parse_args()

    import torch

    devices = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
    output: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average_start": os.getloadavg(),
        },
        "note": (
            "shared CPU: ~8 engineers ran tests and benchmarks on these 2 cores at the same time (see load averages); "
            "energy is the host model's estimate for this process's CPU time (no RAPL here); compare ratios within one run"
        ),
        "devices": list(devices),
        "max_new_tokens": arguments.max_new_tokens,
        "max_input_tokens": arguments.max_input_tokens,
        "command": " ".join(["benchmarks/infer_cpu.py", *sys.argv[1:]]),
        "models": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name in arguments.models:
            model = "minilm-bert2bert" if name == "minilm" else bart_base_folder(Path(scratch) / "bart-base")
            request = BenchRequest(
                model=model,
                samples=arguments.samples if name == "minilm" else arguments.bart_samples,
                batch_sizes=tuple(arguments.batch_sizes if name == "minilm" else arguments.bart_batch_sizes),
                beams=tuple(arguments.beams if name == "minilm" else arguments.bart_beams),
                devices=devices,
                max_new_tokens=arguments.max_new_tokens,
                max_input_tokens=arguments.max_input_tokens,
                meter_scope="process",
                record=False,
                runs_dir=Path(scratch) / "runs",
            )
            began = time.perf_counter()
            result = run_bench(request, lambda label, done, total: print(f"{label}: {done}/{total}", flush=True))
            output["models"][name] = {
                "wall_s": time.perf_counter() - began,
                "load_average_end": os.getloadavg(),
                "result": result.to_dict(),
                "goal": goal(result),
                "markdown": markdown(name, result),
            }
            arguments.out.parent.mkdir(parents=True, exist_ok=True)
            arguments.out.write_text(json.dumps(output, indent=2))
            print(output["models"][name]["markdown"], flush=True)
            print(json.dumps(output["models"][name]["goal"], indent=2), flush=True)


if __name__ == "__main__":
    main()
