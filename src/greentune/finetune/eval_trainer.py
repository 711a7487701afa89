"""`EvalTrainer`: a Seq2SeqTrainer whose evaluations compute the loss every time and ROUGE when it is due.

Each evaluation runs the Trainer's own loop for the eval loss (cheap: one
forward pass per batch), then — at every evaluation, or with
`rouge_every_epochs: k` only at every k-th epoch and at the last step — one
generation pass over the validation split (`eval_generation`: length-sorted
batches, static KV cache where supported) whose ROUGE joins the evaluation's
metrics before the Trainer logs them and calls `on_evaluate`, so early
stopping, best-model tracking and a sweep's reports see them as usual.
Overriding `evaluate`/`evaluation_loop` is the extension point transformers
documents for this; the Trainer's `predict_with_generate` cannot skip
generation at some evaluations or reorder the batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from transformers import Seq2SeqTrainer

from greentune.finetune.eval_generation import GeneratedTexts, GenerationPlan, Shard, generate_shard, merge_shards
from greentune.finetune.rouge import compute_rouge
from greentune.ledger.record import KvCache


@dataclass(frozen=True)
class RougePass:
    """One generation + ROUGE pass over the validation split, at `global_step`."""

    global_step: int
    epoch: float
    texts: tuple[str, ...]
    rouge: Mapping[str, float]
    cache: KvCache


def rouge_due(epoch: float, global_step: int, max_steps: int, every_epochs: int | None) -> bool:
    """Whether an evaluation generates: always without a schedule; else at every k-th epoch and at the last step."""
    if every_epochs is None or global_step >= max_steps:
        return True
    return round(epoch) % every_epochs == 0


def decode_summaries(tokenizer: Any, token_ids: Any) -> list[str]:
    """Generated ids as stripped texts without special tokens (negative ids, the Trainer's label padding, as pad)."""
    import numpy as np

    ids = np.asarray(token_ids.cpu() if hasattr(token_ids, "cpu") else token_ids)
    ids = np.where(ids < 0, tokenizer.pad_token_id, ids)
    return [text.strip() for text in tokenizer.batch_decode(ids, skip_special_tokens=True)]


def gather_pieces(piece: dict[int, str], shard: Shard) -> list[dict[int, str]]:
    """Every process's piece of a sharded generation pass, on every process (torch.distributed via accelerate)."""
    if shard.count == 1:
        return [piece]
    from accelerate.utils import gather_object

    return list(gather_object([piece]))


class EvalTrainer(Seq2SeqTrainer):
    """Seq2SeqTrainer with loss at every evaluation and ROUGE on a schedule; see the module docstring."""

    def __init__(
        self,
        *args: Any,
        generation: GenerationPlan,
        references: Sequence[str],
        rouge_every_epochs: int | None = None,
        **kwargs: Any,
    ) -> None:
        """As Seq2SeqTrainer, plus how evaluation generates, the validation references and the ROUGE schedule."""
        super().__init__(*args, **kwargs)
        self.generation = generation
        self.references = tuple(references)
        self.rouge_every_epochs = rouge_every_epochs
        self.rouge_passes: list[RougePass] = []
        self._rouge_now = False

    def evaluate(
        self,
        eval_dataset: Any = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
        **gen_kwargs: Any,
    ) -> dict[str, float]:
        """The Trainer's evaluation (loss), with ROUGE on the validation split when it is due."""
        state = self.state
        self._rouge_now = eval_dataset is None and rouge_due(
            float(state.epoch or 0.0), state.global_step, state.max_steps, self.rouge_every_epochs
        )
        try:
            return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)
        finally:
            self._rouge_now = False

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        """The Trainer's loop; then, when ROUGE is due, one generation pass whose ROUGE joins the metrics."""
        output = super().evaluation_loop(
            dataloader,
            description,
            prediction_loss_only=prediction_loss_only,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        if not self._rouge_now:
            return output
        self._rouge_now = False
        scored = self.rouge_pass()
        rouge_metrics = {f"{metric_key_prefix}_{key}": value for key, value in scored.rouge.items()}
        return output._replace(metrics={**(output.metrics or {}), **rouge_metrics})

    def rouge_pass(self) -> RougePass:
        """Generate summaries of the validation split with the current weights and score them; kept in `rouge_passes`."""
        generated = self.summarize(self.eval_dataset)
        scored = RougePass(
            global_step=self.state.global_step,
            epoch=float(self.state.epoch or 0.0),
            texts=generated.texts,
            rouge=compute_rouge(list(generated.texts), list(self.references)),
            cache=generated.cache,
        )
        self.rouge_passes.append(scored)
        return scored

    def summarize(self, dataset: Any) -> GeneratedTexts:
        """Summaries of a tokenized data set (its labels unused), in its order, as the generation plan says.

        In a multi-process job each process generates its share and every process gets all summaries.
        """
        from transformers.distributed.fsdp import is_fsdp_managed_module
        from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

        columns = self._remove_unused_columns(dataset, description="Generation")  # what the model's forward takes
        features = [{key: value for key, value in row.items() if key != "labels"} for row in columns]
        model = self.model
        assert model is not None, "EvalTrainer generates with the model the Trainer was given"
        shard = Shard(self.accelerator.process_index, self.accelerator.num_processes)
        texts, cache = generate_shard(
            model,
            features,
            collate=lambda batch: self._prepare_inputs(self.data_collator(batch)),
            decode=lambda ids: decode_summaries(self.processing_class, ids),
            plan=self.generation,
            shard=shard,
            equal_calls=is_deepspeed_zero3_enabled() or is_fsdp_managed_module(model),
        )
        return GeneratedTexts(merge_shards(len(features), gather_pieces(texts, shard)), cache)
