"""Every seed model family trains, evaluates ROUGE and is recorded through `greentune run`, offline.

Each run is the family's own example spec (examples/*.yaml) with only what needs the Hub or a GPU replaced:
the model becomes a tiny random-init one of the same type (MiniLM's tokenizer), the data a few ACLSum pairs,
the precision fp32 and the batch small. Everything else (optimizer, gradient checkpointing, label smoothing,
early stopping, test split, decoding, site) is the example's, so the examples are known to work up to the download.
LED must see global attention on its first token and BigBird-Pegasus must really run block-sparse attention:
spies that call through check both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from greentune.cli.app import app
from greentune.finetune.families import GlobalFirstToken, family_notes
from greentune.finetune.rouge import ROUGE_KEYS, compute_rouge
from greentune.ledger import RunRecord, read_runs
from tiny_models import TINY_BART, TINY_SEQ2SEQ, tiny_tracking_uri

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXPERIMENT = "seed-families"


@dataclass(frozen=True)
class Family:
    """A seed family: its example, its model type in transformers, a tiny config of that type."""

    example: str
    model_type: str
    config_overrides: dict[str, Any]


FAMILIES = [
    Family("bart-large-samsum", "bart", dict(TINY_BART)),
    Family(
        "t5-base-cnn-dailymail",
        "t5",
        {"d_model": 32, "d_ff": 64, "d_kv": 16, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2},
    ),
    Family("pegasus-xsum", "pegasus", {**TINY_SEQ2SEQ, "max_position_embeddings": 64}),
    Family(
        "prophetnet-cnn-dailymail",
        "prophetnet",
        {
            "hidden_size": 32,
            "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64,
            "num_encoder_layers": 1,
            "num_decoder_layers": 1,
            "num_encoder_attention_heads": 2,
            "num_decoder_attention_heads": 2,
            "ngram": 2,
            "max_position_embeddings": 64,
        },
    ),
    Family(
        "led-arxiv",
        "led",
        {
            **TINY_SEQ2SEQ,
            "max_encoder_position_embeddings": 64,
            "max_decoder_position_embeddings": 64,
            "attention_window": 8,
        },
    ),
    Family(
        "bigbird-pegasus-pubmed",
        "bigbird_pegasus",
        # block-sparse needs more than (5 + 2 × 1) × 4 = 28 tokens: the 48-token sources have them
        {
            **TINY_SEQ2SEQ,
            "max_position_embeddings": 64,
            "attention_type": "block_sparse",
            "block_size": 4,
            "num_random_blocks": 1,
        },
    ),
]


def offline_overrides(family: Family, root: Path) -> dict[str, Any]:
    """What replaces the download and the GPU in the family's example; nothing else is changed."""
    return {
        "model.name": family.model_type,
        "model.random_init": True,
        "model.tokenizer": "minilm-bert2bert",
        "model.config_overrides": family.config_overrides,
        "data.name": "aclsum",
        "data.config": None,
        "data.aspects": ["challenge", "outcome"],
        "data.max_source_tokens": 48,
        "data.max_target_tokens": 16,
        "data.max_train_samples": 4,
        "data.max_eval_samples": 2,
        "data.max_test_samples": 2,
        "strategies.precision": "fp32",
        "strategies.batch_size": 2,
        "strategies.gradient_accumulation_steps": 1,
        "train.epochs": 1,
        "train.eval_strategy": "epoch",
        "train.eval_steps": None,
        "train.eval_batch_size": 2,
        "train.save_checkpoints": False,
        "generate.min_new_tokens": 0,
        "generate.max_new_tokens": 4,
        "ledger.tracking_uri": tiny_tracking_uri(root),
        "ledger.experiment": EXPERIMENT,
        "ledger.run_name": family.model_type,
    }


@dataclass
class Spies:
    """What the spies saw: LED's global attention masks, and how often block-sparse attention ran."""

    led_global_masks: list[Any]
    block_sparse_calls: int = 0


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, RunRecord], Spies]:
    """The six families' runs, each through `greentune run <example> --set …`, in one test ledger."""
    from transformers.models.bigbird_pegasus import modeling_bigbird_pegasus
    from transformers.models.led import modeling_led

    root = tmp_path_factory.mktemp("families")
    spies = Spies(led_global_masks=[])
    merge = modeling_led.LEDEncoder._merge_to_attention_mask
    block_sparse = modeling_bigbird_pegasus.BigBirdPegasusBlockSparseAttention.forward

    def merge_spy(self: Any, attention_mask: Any, global_attention_mask: Any) -> Any:
        spies.led_global_masks.append(global_attention_mask.clone())
        return merge(self, attention_mask, global_attention_mask)

    def block_sparse_spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        spies.block_sparse_calls += 1
        return block_sparse(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setattr(modeling_led.LEDEncoder, "_merge_to_attention_mask", merge_spy)
        patch.setattr(modeling_bigbird_pegasus.BigBirdPegasusBlockSparseAttention, "forward", block_sparse_spy)
        for family in FAMILIES:
            settings = [f"{key}={json.dumps(value)}" for key, value in offline_overrides(family, root).items()]
            arguments = ["run", str(EXAMPLES / f"{family.example}.yaml")]
            for setting in settings:
                arguments += ["--set", setting]
            result = CliRunner().invoke(app, arguments)
            assert result.exit_code == 0, f"{family.example}: {result.output}"
    records = {record.run_name: record for record in read_runs(tiny_tracking_uri(root), EXPERIMENT)}
    return records, spies


@pytest.mark.slow
def test_the_six_families_are_in_the_ledger(ledger) -> None:
    records, _ = ledger
    assert sorted(records) == sorted(family.model_type for family in FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES, ids=[family.model_type for family in FAMILIES])
def test_family_trains_evaluates_rouge_and_is_recorded(ledger, family: Family) -> None:
    records, _ = ledger
    record = records[family.model_type]
    assert record.status == "FINISHED", record.notes
    assert f"model type {family.model_type}" in record.notes
    assert record.spec["model"]["config_overrides"] == family.config_overrides
    assert record.energy_kwh > 0 and record.emissions_gco2eq > 0
    assert {"load", "train", "eval-loss", "generate"} <= {phase.name for phase in record.phases}
    # the recorded ROUGE is the ROUGE of the validation predictions the run wrote
    lines = (Path(record.artifact_dir) / "predictions_validation.jsonl").read_text().splitlines()
    pairs = [json.loads(line) for line in lines]
    assert len(pairs) == 2
    expected = compute_rouge([pair["prediction"] for pair in pairs], [pair["reference"] for pair in pairs])
    assert record.rouge == pytest.approx(expected)
    assert sorted(record.rouge) == sorted(ROUGE_KEYS)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES, ids=[family.model_type for family in FAMILIES])
def test_family_ran_its_examples_strategies_as_written(ledger, family: Family) -> None:
    records, _ = ledger
    record = records[family.model_type]
    example = yaml.safe_load((EXAMPLES / f"{family.example}.yaml").read_text())
    replaced = {"precision", "batch_size", "gradient_accumulation_steps"}  # GPU-only or GPU-sized
    for key, value in example.get("strategies", {}).items():
        if key in replaced:
            continue
        if isinstance(value, dict):
            assert {name: record.strategies[key][name] for name in value} == value, key
        else:
            assert record.strategies[key] == value, key
    assert bool(record.test_rouge) is bool(example["train"].get("run_test", False))
    assert record.location == example["site"]["location"]


@pytest.mark.slow
def test_led_sees_global_attention_on_the_first_token_only(ledger) -> None:
    _, spies = ledger
    assert spies.led_global_masks  # training, evaluation and generation all passed a mask
    for mask in spies.led_global_masks:
        assert mask[:, 0].tolist() == [1] * mask.shape[0]
        assert int(mask[:, 1:].sum()) == 0


@pytest.mark.slow
def test_bigbird_pegasus_runs_block_sparse_attention(ledger) -> None:
    records, spies = ledger
    assert spies.block_sparse_calls > 0
    assert not any("full attention" in note for note in records["bigbird_pegasus"].notes)


def test_block_sparse_fallback_is_noted_only_for_sources_too_short_for_it() -> None:
    bigbird = SimpleNamespace(
        model_type="bigbird_pegasus", attention_type="block_sparse", block_size=64, num_random_blocks=3
    )
    (note,) = family_notes(bigbird, 512)  # (5 + 2 × 3) × 64 = 704 tokens needed
    assert note == (
        "BigBird-Pegasus used full attention, not block-sparse: sources are cut at 512 tokens, block-sparse "
        "attention needs more than 704 (block_size 64, 3 random blocks)"
    )
    assert family_notes(bigbird, 705) == []
    assert family_notes(SimpleNamespace(**{**vars(bigbird), "attention_type": "original_full"}), 512) == []
    assert family_notes(SimpleNamespace(model_type="pegasus"), 16) == []


def test_global_first_token_adds_the_mask_to_any_collators_batch() -> None:
    import torch

    collator = GlobalFirstToken(lambda features: {"input_ids": torch.tensor([f["input_ids"] for f in features])})
    batch = collator([{"input_ids": [5, 6, 7]}, {"input_ids": [8, 9, 0]}])
    assert batch["global_attention_mask"].tolist() == [[1, 0, 0], [1, 0, 0]]
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 9, 0]]
