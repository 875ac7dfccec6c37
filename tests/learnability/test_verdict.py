"""Bar verdicts from hand-picked medians: pass, fail, the >= edge, missing values, the ceiling."""

import pytest

from lora_repro.learnability.spec import Bar, LRow
from lora_repro.learnability.verdict import FAIL, INCOMPLETE, PASS, judge

LABELS = {"lora": "LoRA", "ft": "FT"}


def row(kind, amount, metrics=("accuracy",), methods=("lora", "ft"), bar_metrics=None):
    return LRow("mnli", "roberta-base", tuple(metrics), "majority",
                Bar(kind, amount, tuple(methods), tuple(bar_metrics or metrics)))  # fmt: skip


def test_above_baseline_passes_at_exactly_the_bar_and_fails_just_below():
    r = row("above_baseline", 15)
    v = judge(
        r,
        LABELS,
        {"accuracy": 50.0},
        {"accuracy": 33.0},
        {"lora": {"accuracy": 65.0}, "ft": {"accuracy": 80.0}},
        98,
    )
    assert v.status == PASS and v.text() == "PASS" and v.ceiling_ok and v.best == ("FT", "accuracy", 80.0)
    v = judge(
        r,
        LABELS,
        {"accuracy": 50.0},
        {"accuracy": 33.0},
        {"lora": {"accuracy": 64.9}, "ft": {"accuracy": 80.0}},
        98,
    )
    assert v.status == FAIL
    assert v.failures == ["LoRA accuracy 64.9 < baseline 50.0 + 15 = 65.0"]


def test_float_arithmetic_of_baseline_plus_points_does_not_fail_an_exact_tie():
    # 20/60 and 29/60 correct, as the metric computes them: 29/60 is exactly 20/60 + 15 points
    base, got = 100.0 * 20 / 60, 100.0 * 29 / 60
    v = judge(
        row("above_baseline", 15),
        LABELS,
        {"accuracy": base},
        {},
        {"lora": {"accuracy": got}, "ft": {"accuracy": got}},
        98,
    )
    assert v.status == PASS


def test_at_least_only_judges_the_named_methods():
    r = row("at_least", 30, metrics=("lf_accuracy",), methods=("lora",))
    v = judge(
        r,
        LABELS,
        {"lf_accuracy": 0.0},
        {"lf_accuracy": 0.0},
        {"lora": {"lf_accuracy": 30.0}, "ft": {"lf_accuracy": 5.0}},
        98,
    )
    assert v.status == PASS
    v = judge(
        r,
        LABELS,
        {"lf_accuracy": 0.0},
        {"lf_accuracy": 0.0},
        {"lora": {"lf_accuracy": 29.0}, "ft": {"lf_accuracy": 90.0}},
        98,
    )
    assert v.status == FAIL and v.failures == ["LoRA lf_accuracy 29.0 < 30 = 30.0"]


def test_above_untrained_compares_with_the_untrained_model():
    r = row("above_untrained", 20, metrics=("BLEU",))
    methods = {"lora": {"BLEU": 23.0}, "ft": {"BLEU": 40.0}}
    v = judge(r, LABELS, {"BLEU": 30.0}, {"BLEU": 3.1}, methods, 98)
    assert v.status == FAIL and v.failures == ["LoRA BLEU 23.0 < untrained 3.1 + 20 = 23.1"]
    methods["lora"]["BLEU"] = 23.1
    assert judge(r, LABELS, {"BLEU": 30.0}, {"BLEU": 3.1}, methods, 98).status == PASS


def test_every_metric_of_the_bar_counts():
    r = row("above_baseline", 15, metrics=("accuracy", "f1"))
    base = {"accuracy": 46.7, "f1": 63.6}
    methods = {"lora": {"accuracy": 70.0, "f1": 75.0}, "ft": {"accuracy": 72.0, "f1": 80.0}}
    v = judge(r, LABELS, base, {}, methods, 98)
    assert v.status == FAIL and v.failures == ["LoRA f1 75.0 < baseline 63.6 + 15 = 78.6"]


@pytest.mark.parametrize(
    ("where", "value", "status"),
    [("ft", 97.9, PASS), ("ft", 98.0, FAIL), ("baseline", 99.0, FAIL), ("untrained", 98.5, FAIL)],
)
def test_ceiling_fails_a_row_whose_best_value_reaches_it(where, value, status):
    r = row("at_least", 30)  # every method clears it: only the ceiling can fail
    base, untrained = {"accuracy": 40.0}, {"accuracy": 40.0}
    methods = {"lora": {"accuracy": 60.0}, "ft": {"accuracy": 60.0}}
    {"ft": methods["ft"], "baseline": base, "untrained": untrained}[where]["accuracy"] = value
    v = judge(r, LABELS, base, untrained, methods, 98)
    assert v.status == status and v.ceiling_ok == (status == PASS)
    if status == FAIL:
        label = {"ft": "FT"}.get(where, where)
        assert v.failures == [f"ceiling: {label} accuracy {value:.1f} ≥ 98"]


def test_missing_values_make_the_row_incomplete_unless_something_fails():
    r = row("above_baseline", 15)
    v = judge(r, LABELS, {"accuracy": 40.0}, {}, {"lora": {"accuracy": 60.0}, "ft": {"accuracy": None}}, 98)
    assert v.status == INCOMPLETE and v.text() == "INCOMPLETE: missing FT accuracy"
    v = judge(r, LABELS, None, {}, {"lora": {"accuracy": 60.0}, "ft": {"accuracy": 60.0}}, 98)
    assert v.status == INCOMPLETE and v.missing == ["baseline accuracy"]
    v = judge(r, LABELS, {"accuracy": 40.0}, {}, {"lora": {"accuracy": 50.0}, "ft": {}}, 98)
    assert v.status == FAIL and v.missing == ["FT accuracy"]
    v = judge(r, LABELS, None, {}, {"lora": {}, "ft": {}}, 98)
    assert v.status == INCOMPLETE and v.best is None and v.ceiling_ok is None


def test_bar_text():
    assert (
        row("above_baseline", 15, metrics=("accuracy", "f1")).bar.text(LABELS)
        == "LoRA, FT accuracy, f1 ≥ baseline + 15"
    )
    assert row("at_least", 30, methods=("lora",)).bar.text(LABELS) == "LoRA accuracy ≥ 30"
    assert row("above_untrained", 20).bar.text(LABELS) == "LoRA, FT accuracy ≥ untrained + 20"
