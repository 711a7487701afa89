"""Eager PyTorch backend: `generate` on the transformers model as loaded for fine-tuning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greentune.infer.summarizer import Backend, GenerationSettings, Summary


@dataclass
class EagerSummarizer:
    """A transformers seq2seq model run by PyTorch as it is."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    device: str = "cpu"
    backend: Backend = Backend.EAGER

    @classmethod
    def load(cls, name: str, settings: GenerationSettings, device: str) -> EagerSummarizer:
        """Load model and tokenizer the way the fine-tuning runner does, in eval mode on `device`."""
        from greentune.finetune.models import load_model
        from greentune.finetune.spec import ModelConfig

        loaded = load_model(ModelConfig(name=name))
        model = loaded.model.to(device).eval()
        return cls(model=model, tokenizer=loaded.tokenizer, settings=settings, device=device)

    def count_input_tokens(self, text: str) -> int:
        """Tokens of `text` before truncation, special tokens included."""
        return len(self.tokenizer(text, truncation=False)["input_ids"])

    def summarize(self, texts: Sequence[str]) -> list[Summary]:
        """One padded batch through `generate`; output tokens exclude padding and the start token."""
        import torch

        batch = self.tokenizer(
            list(texts), max_length=self.settings.max_input_tokens, truncation=True, padding=True, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            output_ids = self.model.generate(
                **batch, num_beams=self.settings.num_beams, max_new_tokens=self.settings.max_new_tokens
            )
        pad_id = self.tokenizer.pad_token_id
        start_id = self.model.generation_config.decoder_start_token_id
        input_counts = batch["attention_mask"].sum(dim=1).tolist()
        summaries = self.tokenizer.batch_decode(output_ids, skip_special_tokens=True)
        return [
            Summary(
                text=text.strip(),
                input_tokens=int(input_count),
                output_tokens=int(((row != pad_id) & (row != start_id)).sum()),
            )
            for text, input_count, row in zip(summaries, input_counts, output_ids, strict=True)
        ]
