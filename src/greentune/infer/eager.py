"""Eager PyTorch backend: `generate` on the transformers model as loaded for fine-tuning (fp32; bf16/fp16 on GPU)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from greentune.infer.summarizer import (
    Backend,
    GenerationSettings,
    Precision,
    Summary,
    TokenCounting,
    resolved_precision,
)

# the precisions eager PyTorch runs at, per device kind; the first is the default
PRECISIONS: dict[str, tuple[Precision, ...]] = {
    "cpu": (Precision.FP32, Precision.BF16),
    "cuda": (Precision.FP32, Precision.FP16, Precision.BF16),
}
_TORCH_DTYPES = {Precision.FP32: "float32", Precision.FP16: "float16", Precision.BF16: "bfloat16"}


@dataclass
class EagerSummarizer(TokenCounting):
    """A transformers seq2seq model run by PyTorch (also the int8 backend, with quantized Linear layers)."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    device: str = "cpu"
    backend: Backend = Backend.EAGER

    @classmethod
    def load(cls, name: str, settings: GenerationSettings, device: str) -> EagerSummarizer:
        """Load model and tokenizer the way the fine-tuning runner does, in eval mode on `device`, at the precision."""
        import torch

        precision = resolved_precision(Backend.EAGER, settings, device, PRECISIONS)
        loaded = load_transformers_model(name)
        model = loaded.model.to(device=device, dtype=getattr(torch, _TORCH_DTYPES[precision])).eval()
        chosen = replace(settings, precision=precision, max_input_tokens=input_limit(model, settings))
        return cls(model=model, tokenizer=loaded.tokenizer, settings=chosen, device=device)

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        """One padded batch through `generate`; output tokens exclude padding and the start token."""
        return generate_summaries(self.model, self.tokenizer, self.settings, texts, self.device)


def load_transformers_model(name: str) -> Any:
    """A `LoadedModel` (model, tokenizer) by resolved location, as the fine-tuning runner loads it.

    The built-in BERT2BERT draws its new cross-attention weights at every load; a fixed seed (on a forked RNG,
    so the caller's random state is untouched) makes every backend load the same model, so quality compares.
    """
    import torch

    from greentune.finetune.models import load_model
    from greentune.finetune.spec import ModelConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return load_model(ModelConfig(name=name))


def input_limit(model: Any, settings: GenerationSettings) -> int:
    """The settings' input cut-off, lowered to the encoder's position limit (longer inputs would index past it)."""
    config = getattr(model.config, "encoder", model.config)
    positions = getattr(config, "max_position_embeddings", None)
    return min(settings.max_input_tokens, positions) if positions else settings.max_input_tokens


def generate_summaries(
    model: Any, tokenizer: Any, settings: GenerationSettings, texts: Sequence[str], device: str
) -> list[Summary]:
    """One padded batch of `texts` (inputs on `device`) through a transformers model's `generate`."""
    import torch

    batch = tokenizer(
        list(texts), max_length=settings.max_input_tokens, truncation=True, padding=True, return_tensors="pt"
    ).to(device)
    with torch.inference_mode():
        # only ids and mask: a BERT tokenizer's token_type_ids are not an input of every seq2seq model (BART)
        output_ids = model.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            num_beams=settings.num_beams,
            max_new_tokens=settings.max_new_tokens,
        )
    return summaries_from_ids(tokenizer, model.generation_config, batch["attention_mask"], output_ids)


def summaries_from_ids(tokenizer: Any, generation_config: Any, attention_mask: Any, output_ids: Any) -> list[Summary]:
    """`Summary`s from `generate` output: decoded text; output tokens exclude padding and the start token."""
    pad_id = tokenizer.pad_token_id
    start_id = generation_config.decoder_start_token_id
    input_counts = attention_mask.sum(dim=1).tolist()
    summaries = tokenizer.batch_decode(output_ids, skip_special_tokens=True)
    return [
        Summary(
            text=text.strip(),
            input_tokens=int(input_count),
            output_tokens=int(((row != pad_id) & (row != start_id)).sum()),
        )
        for text, input_count, row in zip(summaries, input_counts, output_ids, strict=True)
    ]
