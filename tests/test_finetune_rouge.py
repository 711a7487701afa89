"""ROUGE in points as the finetune runner reports it: rounded to 4 decimals, averaged over pairs, pairs aligned.

Expected scores are counted by hand from the words (F-measure = 2PR / (P + R)).
"""

from __future__ import annotations

import pytest

from greentune.finetune import compute_rouge


def test_scores_are_rounded_to_four_decimals() -> None:
    # "a b c" against "a b d": 2 of 3 words and 1 of 2 bigrams match, P = R, so F1 = 2/3 → 66.6667, F2 = 1/2 → 50
    assert compute_rouge(["a b c"], ["a b d"]) == {
        "rouge1": 66.6667,
        "rouge2": 50.0,
        "rougeL": 66.6667,
        "rougeLsum": 66.6667,
    }


def test_the_score_is_the_mean_over_the_pairs() -> None:
    # pair 1 identical: 100 everywhere; pair 2 "a dog ran" vs "a bird flew": 1 of 3 words, no bigram.
    # rouge1 = (100 + 33.3333) / 2 = 66.6667; rouge2 = (100 + 0) / 2 = 50
    scores = compute_rouge(["the cat sat", "a dog ran"], ["the cat sat", "a bird flew"])
    assert (scores["rouge1"], scores["rouge2"]) == (66.6667, 50.0)


def test_predictions_and_references_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 predictions for 1 references"):
        compute_rouge(["a", "b"], ["a"])
