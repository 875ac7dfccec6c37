"""Trivial baselines, computed (not trained) from a task's own data and scored by the suite's metric.

* ``majority``: the most frequent class of the training examples the cells train on (ties: the
  smallest class id), predicted for every test input; scored like the cells (accuracy, F1, MCC...).
* ``mean``: the mean training score (STS-B), predicted for every test input. The Pearson correlation
  of a constant is undefined; the suite's metric reports it as 0 (lora_repro/metrics/glue.py).
* ``first_slot_value`` (E2E): the value of the input's first slot (``name : X | ...`` -> ``X``).
* ``first_triple`` (WebNLG, DART): the input's first triple as text (``A_b : p : C`` -> ``A b p C``;
  underscores as spaces, DART's bracketed placeholders such as ``[TABLECONTEXT]`` left out).
* ``select_first_column`` (WikiSQL): ``SELECT <first column of the table> FROM table``.
* ``lead_1`` (SAMSum): the dialogue's first utterance.

The test inputs are those the cells evaluate: the same ``eval.max_test_examples`` subset, read from
the resolved config of the row's cells (``cell_data``).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from lora_repro.learnability.spec import BASELINE_KINDS

FIELD_SEP, PART_SEP = " | ", " : "


def majority_label(labels: list[int]) -> int:
    """The most frequent class id (ties: the smallest); unlabeled (-1) rows ignored."""
    counts = Counter(int(y) for y in labels if int(y) >= 0)
    if not counts:
        raise ValueError("majority baseline: no labeled training example")
    return min(counts, key=lambda y: (-counts[y], y))


def mean_score(labels: list[float]) -> float:
    """The mean of the training scores."""
    if not labels:
        raise ValueError("mean baseline: no training example")
    return float(statistics.fmean(float(y) for y in labels))


def first_slot_value(group: dict[str, Any]) -> str:
    """``name : The Eagle | Type : pub`` -> ``The Eagle``."""
    first = group["text"].split(FIELD_SEP)[0]
    return first.split(PART_SEP, 1)[-1].strip()


def first_triple(group: dict[str, Any]) -> str:
    """``Blue_Express : length : 181 | ...`` -> ``Blue Express length 181`` (placeholders dropped)."""
    for triple in group["text"].split(FIELD_SEP):
        parts = [p.strip().replace("_", " ") for p in triple.split(PART_SEP)]
        words = [p for p in parts if p and not (p.startswith("[") and p.endswith("]"))]
        if words:
            return " ".join(words)
    return ""


def select_first_column(group: dict[str, Any]) -> str:
    """``SELECT <first header column> FROM table`` of the group's table (WikiSQL)."""
    header = group["meta"]["table"]["header"]
    return f"SELECT {header[0]} FROM table"


def lead_1(group: dict[str, Any]) -> str:
    """The first non-empty line of the input (SAMSum: the dialogue's first utterance)."""
    return next((line.strip() for line in group["text"].splitlines() if line.strip()), "")


CONSTANT: dict[str, Callable[[list], Any]] = {"majority": majority_label, "mean": mean_score}
COPY: dict[str, Callable[[dict[str, Any]], str]] = {
    "first_slot_value": first_slot_value,
    "first_triple": first_triple,
    "select_first_column": select_first_column,
    "lead_1": lead_1,
}
BASELINES = {**CONSTANT, **COPY}


def baseline_scores(task, kind: str, train_labels: list | None, test: list) -> dict[str, float]:
    """The task metric's scores of baseline ``kind``.

    ``test``: the test labels (classification, regression) or the test eval groups (generation);
    ``train_labels``: the labels of the training examples (constant baselines only).
    """
    from lora_repro.metrics import score

    if kind not in BASELINES:
        raise ValueError(f"unknown baseline {kind!r}; allowed: {list(BASELINES)}")
    if BASELINE_KINDS[kind] != task.kind:
        raise ValueError(f"baseline {kind!r} is for {BASELINE_KINDS[kind]} tasks; {task.name} is {task.kind}")
    if kind in CONSTANT:
        constant = CONSTANT[kind](list(train_labels or []))
        scores = score(task.metric, [constant] * len(test), list(test))
    else:
        predictions = [COPY[kind](g) for g in test]
        references = [g["references"] for g in test]
        scores = score(task.metric, predictions, references, **task.metric_kwargs(test))
    return {k: float(v) for k, v in scores.items()}


def cell_data(cfg) -> tuple[Any, list, list]:  # noqa: ANN001
    """(task, training labels, test labels or eval groups) as the cell of resolved config ``cfg`` sees them.

    The same subsets as ``lora_repro.train.setup.load_splits``: ``train.max_train_examples`` of the
    training split, ``eval.max_test_examples`` of the test role (generation: of its eval groups).
    """
    from lora_repro.train.data import subset
    from lora_repro.train.setup import make_task

    task = make_task(cfg)
    family = str(cfg.model.kind)
    limit = cfg.eval.max_test_examples
    test_ds = task.load("test")
    if task.kind == "generation":
        groups = task.eval_groups(test_ds, family)
        return task, [], groups if limit is None else groups[: int(limit)]
    train = subset(task.load("train"), cfg.train.max_train_examples)
    test = subset(test_ds, limit)
    return task, list(train["label"]), list(test["label"])


def compute_baseline(cfg, kind: str) -> dict[str, float]:  # noqa: ANN001
    """Baseline ``kind`` of the cell whose resolved config is ``cfg``, on the cells' test inputs."""
    task, train_labels, test = cell_data(cfg)
    return baseline_scores(task, kind, train_labels, test)
