"""GLUE metrics against values worked out by hand (0-100 scale, as Table 2 prints them)."""

from __future__ import annotations

import math

import pytest

from lora_repro.metrics import metric_keys, score


def test_cola_matthews():
    # TP=2 TN=1 FP=1 FN=0: (2*1 - 1*0) / sqrt(3*2*2*1)
    out = score("glue_cola", [1, 0, 1, 1], [1, 0, 0, 1])
    assert dict(out) == {"matthews": pytest.approx(100 * 2 / math.sqrt(12))}


@pytest.mark.parametrize("task", ["mrpc", "qqp"])
def test_accuracy_and_f1(task):
    # 3 of 5 right; TP=2 FP=1 FN=1 -> F1 = 4/6
    out = score(f"glue_{task}", [1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert dict(out) == {"accuracy": pytest.approx(60.0), "f1": pytest.approx(200 / 3)}


@pytest.mark.parametrize("task", ["mnli", "sst2", "qnli", "rte"])
def test_accuracy_only(task):
    wrong = 2 if task == "mnli" else 0
    assert dict(score(f"glue_{task}", [0, 1, wrong, 0], [0, 1, 1, 1])) == {"accuracy": 50.0}


def test_stsb_pearson_spearman():
    out = score("glue_stsb", [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])
    assert out["pearson"] == pytest.approx(100.0) and out["spearman"] == pytest.approx(100.0)
    out = score("glue_stsb", [1.0, 2.0, 3.0, 4.0], [10.0, 5.0, 2.0, 1.0])
    assert out["spearman"] == pytest.approx(-100.0)
    assert -100.0 < out["pearson"] < -80.0
    assert dict(score("glue_stsb", [2.5, 2.5, 2.5], [1.0, 2.0, 3.0])) == {"pearson": 0.0, "spearman": 0.0}


def test_decoder_mnli_is_accuracy_of_the_verbalised_label():
    preds = ["entailment", " neutral\n", "Contradiction", "contradiction"]
    refs = ["entailment", "neutral", "contradiction", "neutral"]
    assert score("glue_mnli", preds, refs)["accuracy"] == 50.0  # case matters, whitespace does not


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="integer class ids"):
        score("glue_sst2", [0.5, 1], [0, 1])
    with pytest.raises(ValueError, match="only scored for glue_mnli"):
        score("glue_rte", ["entailment"], ["entailment"])
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        score("glue_cola", [1, 0, 1], [1, 0])


def test_numpy_and_grouped_labels_are_accepted():
    np = pytest.importorskip("numpy")
    assert score("glue_rte", np.array([1, 0]), [[1], [1]])["accuracy"] == 50.0
    assert metric_keys("glue_stsb") == ("pearson", "spearman")
