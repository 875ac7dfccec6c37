"""GLUE metrics with the formulas of HF's ``glue`` metric (sklearn / scipy), on the paper's 0-100 scale.

Table 2 prints every GLUE number x100: accuracy, Matthews correlation (CoLA), Pearson (STS-B).

* ``glue_mnli``: accuracy. Call it once on validation_matched (the paper's "MNLI", "MNLI-m") and
  once on validation_mismatched. Decoder-style MNLI (the GPT-3 rows): predictions and references
  are the verbalised label strings, accuracy is exact match after stripping whitespace.
* ``glue_cola``: matthews. ``glue_stsb``: pearson, spearman. ``glue_mrpc``, ``glue_qqp``:
  accuracy, f1 (positive class 1). ``glue_sst2``, ``glue_qnli``, ``glue_rte``: accuracy.

A correlation of a constant vector is undefined; like sklearn's Matthews, we report 0 for it
(scipy would return NaN, which breaks "best epoch" selection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lora_repro.metrics.common import Scores, check_counts

GLUE_TASKS: dict[str, tuple[str, ...]] = {
    "mnli": ("accuracy",),
    "sst2": ("accuracy",),
    "mrpc": ("accuracy", "f1"),
    "cola": ("matthews",),
    "qnli": ("accuracy",),
    "qqp": ("accuracy", "f1"),
    "rte": ("accuracy",),
    "stsb": ("pearson", "spearman"),
}

# the class labels a GLUE task's predictions and references may hold (``lora-repro score`` checks
# every line against them): class ids 0..n-1, or for MNLI also the verbalised names (decoders);
# STS-B is a regression (any number). Equal to lora_repro.tasks.schemas.GLUE_LABELS (tested).
GLUE_CLASSES: dict[str, tuple[str, ...] | None] = {
    "mnli": ("entailment", "neutral", "contradiction"),
    "sst2": ("negative", "positive"),
    "mrpc": ("not_equivalent", "equivalent"),
    "cola": ("unacceptable", "acceptable"),
    "qnli": ("entailment", "not_entailment"),
    "qqp": ("not_duplicate", "duplicate"),
    "rte": ("entailment", "not_entailment"),
    "stsb": None,
}


def label_problem(task: str, value: Any) -> str | None:
    """Why ``value`` is not a label of GLUE ``task`` (None when it is one)."""
    names = GLUE_CLASSES[task]
    if names is None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else f"{value!r} is not a number (STS-B scores are numbers)"
    if isinstance(value, str):
        if task == "mnli" and value in names:
            return None
        allowed = f"class ids 0..{len(names) - 1}" + (f" or one of {list(names)}" if task == "mnli" else "")
        return f"{value!r} is not a label of {task}; allowed: {allowed}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value < len(names):
        return None
    allowed = f"class ids 0..{len(names) - 1} ({', '.join(f'{i}={n}' for i, n in enumerate(names))})"
    return f"{value!r} is not a label of {task}; allowed: {allowed}"


def _flat(values: Sequence[Any], what: str) -> list[Any]:
    out = []
    for i, v in enumerate(values):
        if isinstance(v, list | tuple):  # a "group" of one label
            if len(v) != 1:
                raise ValueError(f"{what} {i} must be one label, got {v!r}")
            v = v[0]
        if hasattr(v, "item"):  # numpy / torch scalars
            v = v.item()
        if isinstance(v, str):
            v = v.strip()
        elif not isinstance(v, int | float):
            raise ValueError(f"{what} {i} must be a label (int, float or verbalised string), got {v!r}")
        out.append(v)
    return out


def _label_ints(values: list[Any], what: str) -> list[int]:
    bad = [v for v in values if isinstance(v, str) or float(v) != int(v)]
    if bad:
        raise ValueError(f"{what} must be integer class ids for this task, got {bad[0]!r}")
    return [int(v) for v in values]


def _corr(kind: str, a: list[float], b: list[float]) -> float:
    from scipy.stats import pearsonr, spearmanr  # noqa: PLC0415

    if len(a) < 2 or len(set(a)) < 2 or len(set(b)) < 2:
        return 0.0
    value = float((pearsonr if kind == "pearson" else spearmanr)(a, b)[0])
    return 0.0 if math.isnan(value) else value


def score_glue(task: str, predictions: Sequence[Any], references: Sequence[Any]) -> Scores:
    """GLUE metrics of ``task`` (a key of GLUE_TASKS) on the 0-100 scale."""
    if task not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {task!r}; allowed: {', '.join(GLUE_TASKS)}")
    check_counts(predictions, references, "references")
    preds, refs = _flat(predictions, "prediction"), _flat(references, "reference")
    if task == "stsb":
        bad = [v for v in preds + refs if isinstance(v, str)]
        if bad:
            raise ValueError(f"glue_stsb needs numeric scores, got {bad[0]!r}")
        a, b = [float(v) for v in preds], [float(v) for v in refs]
        return Scores(pearson=100.0 * _corr("pearson", a, b), spearman=100.0 * _corr("spearman", a, b))
    if any(isinstance(v, str) for v in preds + refs):  # verbalised labels (decoder-style)
        if task != "mnli":
            raise ValueError(f"verbalised (string) labels are only scored for glue_mnli, not glue_{task}")
        hits = sum(str(p) == str(r) for p, r in zip(preds, refs, strict=True))
        return Scores(accuracy=100.0 * hits / len(refs))
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef  # noqa: PLC0415

    p, r = _label_ints(preds, "predictions"), _label_ints(refs, "references")
    out = Scores()
    if task == "cola":
        out["matthews"] = 100.0 * float(matthews_corrcoef(r, p))
        return out
    out["accuracy"] = 100.0 * float(accuracy_score(r, p))
    if "f1" in GLUE_TASKS[task]:
        out["f1"] = 100.0 * float(f1_score(r, p, zero_division=0.0))
    return out
