"""The runner's parts on their own: ROUGE, data loading and report, models, strategy checks."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from greentune.errors import GreentuneError
from greentune.finetune import compute_rouge
from greentune.finetune.data import load_splits
from greentune.finetune.data_report import data_report, length_stats, report_metrics
from greentune.finetune.models import ModelIdentity, count_parameters, identify_model, load_model, load_tokenizer
from greentune.finetune.rouge import split_sentences
from greentune.finetune.spec import DataConfig, ModelConfig, StrategiesConfig, load_spec
from greentune.finetune.strategies import (
    apply_to_model,
    check_pretrained_dtype,
    deepspeed_config,
    fp16_unsafe_models,
    training_arguments,
)
from tiny_models import tiny_spec


def test_rouge_in_points_with_stemming() -> None:
    scores = compute_rouge(["the cats are running"], ["the cat is running"])
    assert scores["rouge1"] == pytest.approx(75.0)  # the, cat(s), running: 3 of 4 after stemming
    assert compute_rouge(["a b c."], ["a b c."]) == {key: 100.0 for key in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
    assert compute_rouge([], []) == {key: 0.0 for key in ("rouge1", "rouge2", "rougeL", "rougeLsum")}


def test_rouge_lsum_splits_sentences_offline() -> None:
    assert split_sentences("First sentence here. Second one follows.") == "First sentence here.\nSecond one follows."
    prediction, reference = "Dogs bark. Cats sleep.", "Cats sleep. Dogs bark."
    scores = compute_rouge([prediction], [reference])
    assert (scores["rougeL"], scores["rougeLsum"]) == (50.0, 100.0)  # Lsum: LCS per sentence, order-free


def test_aclsum_builds_aspect_conditioned_pairs() -> None:
    splits = load_splits(DataConfig(aspects=["challenge", "approach"]))
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (200, 100, 200)
    assert splits.train.sources[0].startswith("challenge: ")
    assert splits.train.sources[1].startswith("approach: ")
    assert splits.train.sources[0][len("challenge: ") :] == splits.train.sources[1][len("approach: ") :]


def test_local_jsonl_is_split_80_10_10(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"text": f"source {i}", "summary": f"target {i}"}) + "\n" for i in range(20)))
    splits = load_splits(DataConfig(name=str(path), source_column="text", target_column="summary"), seed=1)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (16, 2, 2)
    assert sorted(splits.train.sources + splits.validation.sources + splits.test.sources) == sorted(
        f"source {i}" for i in range(20)
    )
    with pytest.raises(GreentuneError, match="no column 'document'"):
        load_splits(DataConfig(name=str(path), source_column="document", target_column="summary"))


def test_a_data_set_folder_loads_like_a_hub_name_and_a_loading_script_gets_advice(tmp_path: Path) -> None:
    import pandas as pd

    folder = tmp_path / "pairs"
    (folder / "data").mkdir(parents=True)
    for split, count in (("train", 8), ("validation", 2)):
        rows = [{"document": f"{split} source {i}", "summary": f"{split} target {i}"} for i in range(count)]
        pd.DataFrame(rows).to_parquet(folder / "data" / f"{split}-00000-of-00001.parquet")
    config = DataConfig(name=str(folder), source_column="document", target_column="summary", test_split=None)
    splits = load_splits(config, seed=0)
    assert (len(splits.train), len(splits.validation)) == (8, 2)

    scripted = tmp_path / "scripted"
    scripted.mkdir()
    (scripted / "scripted.py").write_text("import datasets\n")
    with pytest.raises(GreentuneError, match=r"scripts are no longer supported.*data\.revision: refs/convert/parquet"):
        load_splits(DataConfig(name=str(scripted)))


def test_synthetic_lengths_follow_the_asked_means() -> None:
    config = DataConfig(
        name="synthetic", synthetic_samples=400, synthetic_source_mean_tokens=147, synthetic_target_mean_tokens=26
    )
    splits = load_splits(config, seed=0, vocabulary=["alpha", "beta", "gamma"])
    source_mean = sum(len(text.split()) for text in splits.train.sources) / len(splits.train)
    target_mean = sum(len(text.split()) for text in splits.train.targets) / len(splits.train)
    assert 130 < source_mean < 165 and 22 < target_mean < 30
    assert len({len(text.split()) for text in splits.train.sources}) > 50  # variable, not padded to one length


def test_length_stats_and_truncation_rate() -> None:
    stats = length_stats([10, 20, 30, 40], max_length=25)
    assert stats.truncated_pct == 50.0 and stats.mean_tokens == 25.0 and stats.max_tokens == 40


def test_data_report_per_split_and_column() -> None:
    tokenizer = load_tokenizer("minilm-bert2bert")
    splits = load_splits(DataConfig(max_train_samples=6, max_eval_samples=3, test_split=None))
    report = data_report(tokenizer, splits, max_source_tokens=64, max_target_tokens=64)
    assert set(report) == {"description", "train", "validation"}
    assert report["train"]["source"]["count"] == 6
    metrics = report_metrics(report)
    assert "data.train.source.truncated_pct" in metrics and "data.validation.target.mean_tokens" in metrics


def test_builtin_bert2bert_loads_offline_with_generation_ids() -> None:
    loaded = load_model(ModelConfig())
    config = loaded.model.generation_config
    assert config.decoder_start_token_id == loaded.tokenizer.cls_token_id
    assert config.eos_token_id == loaded.tokenizer.sep_token_id
    assert config.pad_token_id == loaded.tokenizer.pad_token_id
    assert identify_model(ModelConfig()) == ModelIdentity("encoder-decoder", None)


def test_freeze_reduces_trainable_parameters(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    counts = {}
    for freeze in ("none", "embeddings", "encoder", "both"):
        model = apply_to_model(load_model(spec.model).model, StrategiesConfig(freeze=freeze))
        counts[freeze] = count_parameters(model)
    total = counts["none"][1]
    assert counts["none"][0] == total
    assert counts["both"][0] < counts["embeddings"][0] < total
    assert counts["both"][0] < counts["encoder"][0] < total


def test_lora_trains_only_adapters(tmp_path: Path) -> None:
    spec = tiny_spec(tmp_path)
    loaded = load_model(spec.model).model
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = apply_to_model(loaded, StrategiesConfig.model_validate({"lora": {"enabled": True}}))
    trainable, total = count_parameters(model)
    assert 0 < trainable < total / 10
    assert [str(warning.message) for warning in caught] == []  # peft's deprecated call reached the user's output


def test_fp16_is_refused_for_models_pretrained_in_bf16() -> None:
    assert {"t5", "pegasus", "bigbird_pegasus"} <= set(fp16_unsafe_models())
    fp16 = StrategiesConfig(precision="fp16")
    with pytest.raises(GreentuneError, match="fp16 is risky for t5.*use precision: bf16"):
        check_pretrained_dtype(fp16, ModelIdentity("t5", None))
    with pytest.raises(GreentuneError, match="published in bfloat16"):
        check_pretrained_dtype(fp16, ModelIdentity("gemma_seq2seq", "bfloat16"))
    warned = check_pretrained_dtype(
        StrategiesConfig(precision="fp16", fp16_unsafe="warn"), ModelIdentity("pegasus", None)
    )
    assert warned and "pegasus" in warned
    assert check_pretrained_dtype(fp16, ModelIdentity("bart", "float32")) is None
    assert check_pretrained_dtype(StrategiesConfig(precision="bf16"), ModelIdentity("t5", None)) is None


def test_strategies_become_trainer_arguments() -> None:
    strategies = load_spec(
        None,
        [
            "strategies.precision=bf16",
            "strategies.optimizer=adafactor",
            "strategies.batch_size=auto",
            "strategies.group_by_length=true",
            "strategies.torch_compile=true",
            "strategies.deepspeed.enabled=true",
            "strategies.deepspeed.stage=3",
            "strategies.deepspeed.offload_optimizer=true",
        ],
    ).strategies
    arguments = training_arguments(strategies)
    assert arguments["bf16"] and not arguments["fp16"]
    assert arguments["optim"] == "adafactor"
    assert arguments["auto_find_batch_size"] and arguments["per_device_train_batch_size"] >= 8
    assert arguments["torch_compile"]
    assert "group_by_length" in (
        arguments.get("train_sampling_strategy"),
        "group_by_length" if arguments.get("group_by_length") else None,
    )
    zero = arguments["deepspeed"]["zero_optimization"]
    assert zero["stage"] == 3 and zero["offload_optimizer"]["device"] == "cpu"
    assert deepspeed_config(strategies)["train_micro_batch_size_per_gpu"] == "auto"


def test_a_folder_transformers_does_not_know_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # config.json without a model_type, no tokenizer files: transformers raises ValueError, not OSError
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(GreentuneError) as raised:
        identify_model(ModelConfig(name=str(tmp_path)))
    assert str(raised.value) == (
        f"could not read the config of '{tmp_path}' (Unrecognized model in {tmp_path}. Should have a `model_type` "
        "key in its config.json.); check the name and network, or use model.name: minilm-bert2bert offline"
    )
    with pytest.raises(GreentuneError) as raised:
        load_tokenizer(str(tmp_path))
    assert str(raised.value).startswith(f"could not load tokenizer '{tmp_path}' (")
