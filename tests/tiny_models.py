"""Tiny offline fine-tuning runs for tests: a random 1-layer BART with the MiniLM tokenizer on a few ACLSum pairs.

`run_tiny(root, **overrides)` runs the real runner end to end (meter, Trainer,
ROUGE, carbon accounting, SQLite MLflow ledger under `root`) in a few seconds;
overrides are dotted spec keys, e.g. `run_tiny(root, **{"strategies.freeze": "embeddings"})`.
Other test modules (the report's included) reuse it to fill a ledger.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from greentune.finetune.spec import ExperimentSpec, apply_override, validate_spec
from greentune.ledger import RunRecord

TINY_SEQ2SEQ = {  # the config keys BART, PEGASUS, LED and ProphetNet-style configs share
    "d_model": 32,
    "encoder_layers": 1,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
}
TINY_BART = {**TINY_SEQ2SEQ, "max_position_embeddings": 64}


def save_tiny_bart(folder: Path) -> str:
    """Save a random tiny BART (seed 0; init_std 1.0, so that greedy summaries differ between inputs) with the
    MiniLM tokenizer into ``folder``; returns the folder, as a model name the infer backends load."""
    import torch

    from greentune.finetune.models import load_model
    from greentune.finetune.spec import ModelConfig

    torch.manual_seed(0)
    overrides = {**TINY_BART, "init_std": 1.0}
    loaded = load_model(
        ModelConfig(name="bart", random_init=True, tokenizer="minilm-bert2bert", config_overrides=overrides)
    )
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return str(folder)


def tiny_spec_dict(root: Path, experiment: str = "tiny") -> dict[str, Any]:
    """A spec that trains 2 steps and evaluates once on 8 ACLSum validation pairs; ledger under `root`."""
    return {
        "model": {
            "name": "bart",
            "random_init": True,
            "tokenizer": "minilm-bert2bert",
            "config_overrides": dict(TINY_BART),
        },
        "data": {
            "name": "aclsum",
            "aspects": ["challenge", "outcome"],
            "max_source_tokens": 48,
            "max_target_tokens": 16,
            "max_train_samples": 8,
            "max_eval_samples": 4,
            "max_test_samples": 4,
        },
        "strategies": {"batch_size": 4},
        "train": {"epochs": 1, "learning_rate": 1e-3, "eval_batch_size": 4, "save_checkpoints": False},
        "generate": {"max_new_tokens": 6},
        "site": {"location": "DE"},
        "ledger": {"tracking_uri": tiny_tracking_uri(root), "experiment": experiment},
    }


def tiny_tracking_uri(root: Path) -> str:
    """The SQLite MLflow store of the tiny runs under `root`."""
    return f"sqlite:///{(root / 'ledger' / 'mlflow.db').resolve()}"


def tiny_spec(root: Path, experiment: str = "tiny", **overrides: Any) -> ExperimentSpec:
    """The tiny spec with dotted-key overrides applied."""
    raw = tiny_spec_dict(root, experiment)
    for key, value in overrides.items():
        raw = apply_override(raw, f"{key}={json.dumps(value)}")  # JSON is YAML: the value keeps its type
    return validate_spec(raw, origin="tiny spec")


def run_tiny(root: Path, experiment: str = "tiny", resume: bool = False, **overrides: Any) -> RunRecord:
    """Fine-tune the tiny model with the real runner; record under `root`; return the stored record."""
    from greentune.finetune import run

    return run(tiny_spec(root, experiment, **overrides), resume=resume)
