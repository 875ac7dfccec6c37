"""SAMSum ROUGE (rouge-score, Porter stemming, mean F x100) against hand-counted n-grams."""

from __future__ import annotations

import pytest

from lora_repro.metrics import score
from lora_repro.metrics.samsum import split_sentences


def test_rouge_with_stemming():
    # pred: amanda bake cooki (3) ; ref: amanda bake cooki and will bring jerri some (8), stems match
    out = score("samsum", ["Amanda baked cookies."], [["Amanda bakes cookies and will bring Jerry some."]])
    assert out["rouge1"] == pytest.approx(100 * 2 * (3 / 8) / (1 + 3 / 8))
    assert out["rouge2"] == pytest.approx(
        100 * 2 * (2 / 7) / (1 + 2 / 7)
    )  # both bigrams of the prediction match
    assert out["rougeL"] == pytest.approx(out["rouge1"])


def test_rouge_lsum_uses_sentence_split_rouge_l_does_not():
    out = score("samsum", ["A b. C d."], ["C d. A b."])
    assert out["rougeL"] == pytest.approx(50.0)  # LCS over the whole summary: 2 of 4
    assert out["rougeLsum"] == pytest.approx(100.0)  # union LCS per reference sentence: 4 of 4


def test_mean_over_examples_and_best_of_several_references():
    out = score("samsum", ["x y", "p q"], [["x y", "z"], ["r s"]])
    assert out["rouge1"] == pytest.approx(50.0)


def test_split_sentences():
    assert split_sentences("Hi there! How are you?\nFine.  Ok") == "Hi there!\nHow are you?\nFine.\nOk"
