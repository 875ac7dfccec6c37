"""Trivial baselines on small hand-made data, with the expected scores worked out by hand."""

import pytest

from lora_repro.learnability import baselines
from lora_repro.learnability.baselines import (
    BASELINES,
    baseline_scores,
    first_slot_value,
    first_triple,
    lead_1,
    majority_label,
    select_first_column,
)
from lora_repro.learnability.spec import BASELINE_KINDS
from lora_repro.tasks import get_task


def test_every_baseline_kind_of_the_spec_is_implemented():
    assert set(BASELINES) == set(BASELINE_KINDS)


def test_majority_label_ties_go_to_the_smallest_class_and_unlabeled_rows_are_ignored():
    assert majority_label([1, 0, 1, 0]) == 0
    assert majority_label([-1, -1, -1, 2, 2, 1]) == 2
    with pytest.raises(ValueError, match="no labeled training example"):
        majority_label([-1])


def test_majority_accuracy_and_f1_on_mrpc():
    # train: 2 x class 1, 1 x class 0 -> predict 1 everywhere; test labels 1 0 0 1 1:
    # accuracy 3/5 = 60; F1 of class 1: precision 3/5, recall 3/3 -> 2 * 0.6 * 1 / 1.6 = 75
    got = baseline_scores(get_task("mrpc"), "majority", [1, 1, 0], [1, 0, 0, 1, 1])
    assert got["accuracy"] == pytest.approx(60.0) and got["f1"] == pytest.approx(75.0)


def test_majority_on_sst2_and_cola():
    # predict 0 everywhere; 1 of 4 test labels is 0
    assert baseline_scores(get_task("sst2"), "majority", [0, 0, 1], [0, 1, 1, 1]) == {"accuracy": 25.0}
    # a constant prediction has Matthews correlation 0
    assert baseline_scores(get_task("cola"), "majority", [1, 1, 0], [1, 0, 1, 0]) == {"matthews": 0.0}
    # MNLI with three classes: class 2 is the majority; 2 of 5 test labels are 2
    assert baseline_scores(get_task("mnli"), "majority", [2, 2, 0, 1], [0, 2, 1, 2, 0]) == {"accuracy": 40.0}


def test_mean_score_on_stsb_is_a_constant_with_pearson_zero():
    assert baselines.mean_score([1.0, 2.0, 4.5]) == 2.5
    got = baseline_scores(get_task("stsb"), "mean", [1.0, 2.0, 4.5], [0.5, 3.0, 4.0])
    assert got == {"pearson": 0.0, "spearman": 0.0}


def test_copy_baselines_pick_the_first_field():
    assert first_slot_value({"text": "name : The Eagle | Type : pub | area : riverside"}) == "The Eagle"
    assert (
        first_triple({"text": "Blue_Express : length : 181 | Blue_Express : owner : Ann"})
        == "Blue Express length 181"
    )
    dart = "[TABLECONTEXT] : [title] : Norwood Choir | [TABLECONTEXT] : member : Olivia Walker"
    assert first_triple({"text": dart}) == "Norwood Choir"
    assert lead_1({"text": "\nAmy: hi there\nBob: yo\n\n"}) == "Amy: hi there"
    table = {"header": ["Name", "Area"]}
    assert select_first_column({"text": "", "meta": {"table": table}}) == "SELECT Name FROM table"


def test_lead_1_on_samsum_scores_rouge_l_by_hand():
    # "Amy: hi" -> tokens amy, hi; reference "Amy says hi" -> amy, says, hi: LCS 2,
    # precision 2/2, recall 2/3 -> F = 2 * 1 * (2/3) / (5/3) = 0.8
    groups = [{"text": "Amy: hi\nBob: yo\n\n", "references": ["Amy says hi"], "meta": {"id": "1"}}]
    got = baseline_scores(get_task("samsum"), "lead_1", None, groups)
    assert got["rougeL"] == pytest.approx(80.0)


def test_select_first_column_on_wikisql_scores_logical_form_accuracy_by_hand():
    table = {
        "header": ["Name", "Area"],
        "types": ["text", "text"],
        "rows": [["Ann", "riverside"], ["Bo", "centre"]],
    }
    groups = [
        {"text": "q1", "references": ["SELECT Name FROM table"], "meta": {"table": table}},
        {
            "text": "q2",
            "references": ["SELECT Name FROM table WHERE Area = riverside"],
            "meta": {"table": table},
        },
    ]
    got = baseline_scores(get_task("wikisql"), "select_first_column", None, groups)
    assert got["lf_accuracy"] == pytest.approx(50.0)  # the first is the same query, the second is not


def test_a_baseline_for_another_kind_of_task_is_refused():
    with pytest.raises(ValueError, match="'mean' is for regression tasks; mnli is classification"):
        baseline_scores(get_task("mnli"), "mean", [1.0], [1])
