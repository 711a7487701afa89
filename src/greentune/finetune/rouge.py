"""ROUGE-1/2/L/Lsum in points (0–100) with `rouge-score`, as the HF summarization example computes it.

rougeLsum needs one sentence per line. The HF example splits with
`nltk.sent_tokenize`, whose trained "punkt" model is a separate download that
offline machines lack. We use nltk's `PunktSentenceTokenizer()` with its
default, untrained parameters instead: the same algorithm, always available,
that may also split after abbreviations such as "e.g." (which moves rougeLsum
slightly, never rouge1/2/L).
"""

from __future__ import annotations

from functools import cache
from typing import Any

ROUGE_KEYS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


@cache
def _sentence_splitter() -> Any:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer()


@cache
def _scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)


def split_sentences(text: str) -> str:
    """One sentence per line, as rougeLsum expects."""
    return "\n".join(_sentence_splitter().tokenize(text.strip()))


def compute_rouge(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean F-measure of each ROUGE variant in points, over aligned prediction/reference pairs."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not predictions:
        return {key: 0.0 for key in ROUGE_KEYS}
    totals = dict.fromkeys(ROUGE_KEYS, 0.0)
    for prediction, reference in zip(predictions, references, strict=True):
        scores = _scorer().score(split_sentences(reference), split_sentences(prediction))
        for key in ROUGE_KEYS:
            totals[key] += scores[key].fmeasure
    return {key: round(100.0 * total / len(predictions), 4) for key, total in totals.items()}
