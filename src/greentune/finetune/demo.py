"""The offline CPU demo: MiniLM BERT2BERT on ACLSum, a baseline and two strategies.

Calibrated to learn within a 10-minute budget on 2 CPU cores (measurements in
benchmarks/README.md): max source 128 tokens, batch 8, learning rate 2e-4,
greedy decoding, 2 epochs. At this size the model first learns to end every
summary at once (empty output, ROUGE 0), so decoding asks for at least 10 new
tokens (`min_new_tokens`, as summarization configs such as BART-CNN's
`min_length` do) and blocks repeated trigrams; with that, validation ROUGE-1
is ≈ 18–20 after one epoch and gains little after. The early-stopping run is
given 3 epochs and stops after the first epoch that adds less than 2 ROUGE-1
points — a diminishing-returns rule sized for a demo that must finish in
minutes (the seed case study used 0.1–0.5 on SAMSum). Summaries at this size
stay generic ("they propose a method to ..."): the scores mostly reflect each
aspect's vocabulary, and the demo's point is the strategies' cost at equal
quality, not summary quality.
"""

from __future__ import annotations

from typing import Any

from greentune.finetune.spec import ExperimentSpec, apply_override, validate_spec

DEMO_SEED = 42

DEMO_BASE: dict[str, Any] = {
    "model": {"name": "minilm-bert2bert"},
    "data": {"name": "aclsum", "sections": ["abstract"], "max_source_tokens": 128, "max_target_tokens": 64},
    "strategies": {"batch_size": 8},
    "train": {
        "epochs": 2,
        "learning_rate": 2e-4,
        "seed": DEMO_SEED,
        "eval_strategy": "epoch",
        "eval_batch_size": 50,
        "save_checkpoints": False,
    },
    "generate": {"num_beams": 1, "min_new_tokens": 10, "max_new_tokens": 40, "no_repeat_ngram_size": 3},
}

DEMO_RUNS: list[tuple[str, list[str]]] = [
    ("baseline", []),
    ("freeze-embeddings", ["strategies.freeze=embeddings"]),
    (
        "early-stopping",
        [
            "train.epochs=3",
            "strategies.early_stopping.enabled=true",
            "strategies.early_stopping.metric=rouge1",
            "strategies.early_stopping.patience=1",
            "strategies.early_stopping.threshold=2.0",
        ],
    ),
]


def demo_specs(
    experiment: str = "greentune-demo",
    tracking_uri: str | None = None,
    location: str | None = None,
    sku: str | None = None,
) -> list[ExperimentSpec]:
    """The demo's runs as validated specs, recorded under `experiment`, accounted at `location` (priced with `sku`)."""
    specs: list[ExperimentSpec] = []
    for label, overrides in DEMO_RUNS:
        raw = {
            **DEMO_BASE,
            "site": {"location": location, "sku": sku},
            "ledger": {"experiment": experiment, "run_name": f"demo-{label}", "tracking_uri": tracking_uri},
        }
        for override in overrides:
            raw = apply_override(raw, override)
        specs.append(validate_spec(raw, origin=f"demo run {label}"))
    return specs
