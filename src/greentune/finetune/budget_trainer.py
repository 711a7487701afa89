"""An `EvalTrainer` whose training batches come from `TokenBudgetBatchSampler` (token-budget batching)."""

from __future__ import annotations

from typing import Any

from greentune.finetune.eval_trainer import EvalTrainer
from greentune.finetune.token_batching import SampleLength, TokenBudgetBatchSampler


def sample_lengths(dataset: Any) -> list[SampleLength]:
    """Source and target token counts of a tokenized data set (`input_ids`, `labels` columns)."""
    return [
        SampleLength(len(source), len(target))
        for source, target in zip(dataset["input_ids"], dataset["labels"], strict=True)
    ]


class TokenBudgetTrainer(EvalTrainer):
    """EvalTrainer with training batches filled up to `token_budget` padded tokens."""

    def __init__(self, *args: Any, token_budget: int, **kwargs: Any) -> None:
        """As EvalTrainer, plus the token budget of one training batch."""
        super().__init__(*args, **kwargs)
        self.token_budget = token_budget

    def get_train_dataloader(self) -> Any:
        """The training DataLoader over token-budget batches, reshuffled every epoch by the Trainer's set_epoch."""
        from torch.utils.data import DataLoader

        if self.train_dataset is None:
            raise ValueError("Trainer: training requires a train_dataset.")
        sampler = TokenBudgetBatchSampler(sample_lengths(self.train_dataset), self.token_budget, self.args.seed)
        dataset = self._remove_unused_columns(self.train_dataset, description="Training")
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=self.args.dataloader_persistent_workers and self.args.dataloader_num_workers > 0,
        )
        return self.accelerator.prepare(loader)
