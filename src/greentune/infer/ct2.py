"""CTranslate2 backend: the model converted by CTranslate2's Transformers converter and run by its `Translator`.

CTranslate2 converts the families it registers (BART, T5, Marian, Pegasus,
M2M100, …); a BERT2BERT `EncoderDecoderModel` (the built-in model) is not one,
and says so as an `UnsupportedConfiguration`. Two gaps of the converter with
transformers 5 are bridged here rather than by pinning transformers: BART
configs no longer carry `normalize_before` (BART is post-norm: False), and a
BERT vocabulary has no BOS/EOS tokens, so the converted config takes its start
and end tokens from the generation config's ids, as `generate` does. Weights
are converted once per load into a temporary folder (float32; the precision is
CTranslate2's `compute_type`, applied when the model is loaded).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from greentune.infer.eager import input_limit, load_transformers_model
from greentune.infer.summarizer import (
    Backend,
    GenerationSettings,
    Precision,
    Summary,
    TokenCounting,
    UnsupportedConfiguration,
    device_kind,
    resolved_precision,
)

PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "cpu": (Precision.INT8, Precision.INT8_FP32, Precision.FP32),
    "cuda": (Precision.INT8_FP16, Precision.FP16, Precision.INT8, Precision.BF16, Precision.FP32),
}
COMPUTE_TYPES: dict[Precision, str] = {
    Precision.INT8: "int8",
    Precision.INT8_FP32: "int8_float32",
    Precision.INT8_FP16: "int8_float16",
    Precision.FP16: "float16",
    Precision.BF16: "bfloat16",
    Precision.FP32: "float32",
}


@dataclass
class Ct2Summarizer(TokenCounting):
    """A CTranslate2 `Translator` over the converted model, with the original tokenizer."""

    translator: Any
    tokenizer: Any
    settings: GenerationSettings
    decoding: dict[str, Any]
    forced_eos: bool = False
    device: str = "cpu"
    backend: Backend = Backend.CT2
    workdir: Path | None = field(default=None, repr=False)

    @classmethod
    def load(cls, name: str, settings: GenerationSettings, device: str) -> Ct2Summarizer:
        """Convert the model (fp32 weights) and load it at the settings' precision as a compute type."""
        precision = resolved_precision(Backend.CT2, settings, device, PRECISIONS)
        try:
            import ctranslate2
        except ImportError:
            raise UnsupportedConfiguration(
                Backend.CT2, "ctranslate2 is not installed (pip install ctranslate2)"
            ) from None
        model_type, config_class = _config_class(name)
        if config_class not in _convertible_configs():
            raise UnsupportedConfiguration(
                Backend.CT2, f"CTranslate2 has no converter for {model_type} models ({config_class})"
            )
        loaded = load_transformers_model(name)
        workdir = Path(tempfile.mkdtemp(prefix="greentune-ct2-"))
        try:
            converted = _convert(loaded.model, loaded.tokenizer, workdir)
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            translator = ctranslate2.Translator(
                str(converted), device=device_kind(device), device_index=index, compute_type=COMPUTE_TYPES[precision]
            )
        except UnsupportedConfiguration:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        except (RuntimeError, ValueError) as error:
            shutil.rmtree(workdir, ignore_errors=True)
            raise UnsupportedConfiguration(Backend.CT2, f"{str(error).splitlines()[0]}") from None
        summarizer = cls(
            translator=translator,
            tokenizer=loaded.tokenizer,
            settings=replace(settings, precision=precision, max_input_tokens=input_limit(loaded.model, settings)),
            decoding=_decoding_options(loaded.model.generation_config),
            forced_eos=loaded.model.generation_config.forced_eos_token_id is not None,
            device=device,
            workdir=workdir,
        )
        weakref.finalize(summarizer, shutil.rmtree, workdir, True)
        return summarizer

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        """One batch through `translate_batch` with the model's own decoding options."""
        encoded = self.tokenizer(list(texts), max_length=self.settings.max_input_tokens, truncation=True)["input_ids"]
        sources = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded]
        # generate forces the end token as the last of max_new_tokens when the config says so; CTranslate2 does not
        content_limit = self.settings.max_new_tokens - int(self.forced_eos)
        results = self.translator.translate_batch(
            sources,
            beam_size=self.settings.num_beams,
            max_decoding_length=max(content_limit, 1),
            max_batch_size=len(sources),
            **self.decoding,
        )
        summaries = []
        for ids, result in zip(encoded, results, strict=True):
            tokens = result.hypotheses[0]
            output_ids = self.tokenizer.convert_tokens_to_ids(tokens)
            ended = self.forced_eos or len(tokens) < content_limit  # the end token is not returned; generate counts it
            summaries.append(
                Summary(
                    text=self.tokenizer.decode(output_ids, skip_special_tokens=True).strip(),
                    input_tokens=len(ids),
                    output_tokens=len(tokens) + int(ended),
                )
            )
        return summaries


def _config_class(name: str) -> tuple[str, str]:
    """Model type and transformers config class name, read from the config alone (no weights)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from greentune.finetune.models import identify_model
    from greentune.finetune.spec import ModelConfig

    model_type = identify_model(ModelConfig(name=name)).model_type
    config_class = CONFIG_MAPPING[model_type].__name__ if model_type in CONFIG_MAPPING else model_type
    return model_type, config_class


def _convertible_configs() -> set[str]:
    from ctranslate2.converters import transformers as ct2_transformers

    return set(getattr(ct2_transformers, "_MODEL_LOADERS", {}))


def _convert(model: Any, tokenizer: Any, workdir: Path) -> Path:
    """Save the model as loaded (special tokens wired) and convert it; returns the CTranslate2 folder."""
    from ctranslate2.converters import TransformersConverter

    class _Converter(TransformersConverter):
        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            loaded = super().load_model(model_class, model_name_or_path, **kwargs)
            if loaded.config.model_type == "bart" and not hasattr(loaded.config, "normalize_before"):
                loaded.config.normalize_before = False
            return loaded

    source, target = workdir / "hf", workdir / "ct2"
    model.save_pretrained(source)
    tokenizer.save_pretrained(source)
    _Converter(str(source)).convert(str(target), force=True)
    shutil.rmtree(source)
    config_path = target / "config.json"
    config = json.loads(config_path.read_text())
    generation = model.generation_config
    for key, token_id in (("bos_token", generation.bos_token_id), ("eos_token", generation.eos_token_id)):
        if config.get(key) is None and token_id is not None:
            config[key] = tokenizer.convert_ids_to_tokens(int(token_id))
    config_path.write_text(json.dumps(config, indent=2))
    return target


def _decoding_options(generation: Any) -> dict[str, Any]:
    """The generation config's length, repetition and n-gram settings as `translate_batch` options."""
    options: dict[str, Any] = {"length_penalty": float(generation.length_penalty or 1.0)}
    if generation.no_repeat_ngram_size:
        options["no_repeat_ngram_size"] = int(generation.no_repeat_ngram_size)
    if generation.repetition_penalty and generation.repetition_penalty != 1.0:
        options["repetition_penalty"] = float(generation.repetition_penalty)
    if generation.min_length:
        options["min_decoding_length"] = int(generation.min_length)
    return options
