"""What some model families need beyond the generic seq2seq path: LED's global attention on the first token.

LED (Longformer-Encoder-Decoder, Beltagy, Peters & Cohan 2020) attends in a
sliding local window; its summarization recipe gives the first token global
attention, so that every token reaches one that sees the whole document.
Given no ``global_attention_mask``, LED silently trains and generates with
local attention only, so the collator adds the mask to every batch (training,
evaluation and generation: evaluation's generation batches go through the same collator).

BigBird-Pegasus needs no extra input (block-sparse attention is its config's
default), but it falls back to full attention, with only a log line, when a
batch is not longer than ``(5 + 2 × num_random_blocks) × block_size`` tokens;
`family_notes` says so in the run's notes when the sources are cut that short.

Every other family (BART, T5, PEGASUS, ProphetNet, the BERT2BERT built-in)
takes transformers' `DataCollatorForSeq2Seq` as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

LED = "led"
BIGBIRD_PEGASUS = "bigbird_pegasus"


class GlobalFirstToken:
    """A collator that adds ``global_attention_mask`` (1 on the first token, 0 elsewhere) to another's batches."""

    def __init__(self, collator: Any) -> None:
        """Wrap ``collator`` (a callable from a list of features to a batch of tensors)."""
        self.collator = collator

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        """The wrapped collator's batch with the mask added."""
        import torch

        batch = self.collator(features)
        mask = torch.zeros_like(batch["input_ids"])
        mask[:, 0] = 1
        batch["global_attention_mask"] = mask
        return batch


def seq2seq_collator(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> Any:
    """The data collator ``model``'s family trains with: transformers' seq2seq one, plus LED's global attention."""
    from transformers import DataCollatorForSeq2Seq

    collator = DataCollatorForSeq2Seq(tokenizer, model=model)
    return GlobalFirstToken(collator) if model.config.model_type == LED else collator


def family_notes(model_config: PretrainedConfig, max_source_tokens: int) -> list[str]:
    """Notes for the record when a family will not run as its config says (BigBird-Pegasus on short sources)."""
    if model_config.model_type != BIGBIRD_PEGASUS or model_config.attention_type != "block_sparse":
        return []
    needed_tokens = (5 + 2 * model_config.num_random_blocks) * model_config.block_size
    if max_source_tokens > needed_tokens:
        return []
    return [
        f"BigBird-Pegasus used full attention, not block-sparse: sources are cut at {max_source_tokens} tokens, "
        f"block-sparse attention needs more than {needed_tokens} (block_size {model_config.block_size}, "
        f"{model_config.num_random_blocks} random blocks)"
    ]
