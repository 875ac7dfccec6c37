"""``lora-repro score task=<name> predictions=<file> references=<file> [meta=<jsonl>]``.

* ``predictions``: one output per line (an empty line is an empty output).
* ``references``: one reference per line, a blank line after the references of each input (the
  e2e-metrics / gpt2_decode.py layout); a file without blank lines holds one reference per input.
  GLUE: one label per line (an int class id, a float for STS-B, or the verbalised label string).
* ``meta`` (optional, JSON lines, one object per input): ``{"seen": true}`` or
  ``{"category": "Airport"}`` for webnlg's S/U/A split, ``{"table": {"header": [...],
  "types": [...], "rows": [[...]]}}`` for wikisql (required there).

Prints one JSON object: the task's metrics under the paper's names and scale; a metric that could
not be computed is ``null`` and its reason is under ``"unavailable"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lora_repro.config import split_args
from lora_repro.metrics import METRICS, metric_keys, score
from lora_repro.metrics.glue import GLUE_TASKS, label_problem

TASKS: dict[str, str] = {t: f"glue_{t}" for t in GLUE_TASKS}
TASKS.update({m: m for m in METRICS})
TASKS.update({"e2e_nlg": "e2e", "web_nlg": "webnlg"})
USAGE = "usage: lora-repro score task=<name> predictions=<file> references=<file> [meta=<jsonl file>]"


def read_lines(path: str) -> list[str]:
    """One stripped entry per line (the last newline does not start another entry)."""
    with open(_existing(path, "predictions"), encoding="utf-8") as fh:
        return [line.strip() for line in fh]


def read_groups(path: str) -> list[list[str]]:
    """Reference groups separated by blank lines; no blank line at all = one reference per input."""
    groups: list[list[str]] = [[]]
    with open(_existing(path, "references"), encoding="utf-8") as fh:
        for raw in fh:
            line = raw.strip()
            if line:
                groups[-1].append(line)
            elif groups[-1]:
                groups.append([])
    if not groups[-1]:
        groups.pop()
    if len(groups) == 1:  # as e2e-metrics: a file without blank lines is single-reference
        groups = [[r] for r in groups[0]]
    return groups


def _existing(path: str, what: str) -> Path:
    p = Path(str(path))
    if not p.is_file():
        raise FileNotFoundError(f"{what} file not found: {p}")
    return p


def _label(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _check_labels(task: str, path: str, lines: list[tuple[int, Any]]) -> None:
    """Every line of a GLUE predictions or references file holds one of the task's labels."""
    for number, value in lines:
        problem = label_problem(task, value)
        if problem is not None:
            raise ValueError(f"{path} line {number}: {problem}")


def read_meta(path: str, metric: str, n: int) -> dict[str, Any]:
    """Turn the meta JSON-lines file into score() options for ``metric``."""
    if metric not in ("webnlg", "wikisql"):
        raise ValueError(f"task metric {metric!r} takes no meta file (only webnlg and wikisql do)")
    rows = []
    with open(_existing(path, "meta"), encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"meta line {i} is not JSON: {err}") from err
    if len(rows) != n:
        raise ValueError(f"got {n} predictions but {len(rows)} meta lines: one JSON object per input")
    if metric == "webnlg":
        if all("seen" in r for r in rows):
            return {"seen": [r["seen"] for r in rows]}
        if all("category" in r for r in rows):
            return {"categories": [r["category"] for r in rows]}
        raise ValueError('webnlg meta lines need "seen" (bool) or "category" on every line')
    if not all("table" in r for r in rows):
        raise ValueError('wikisql meta lines need "table": {"header", "types", "rows"} on every line')
    return {"tables": [r["table"] for r in rows]}


def run(task: str, predictions: str, references: str, meta: str | None = None) -> dict[str, Any]:
    """Score the files; the JSON-ready result (unavailable metrics as None + reasons)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
    metric = TASKS[task]
    preds = read_lines(predictions)
    if metric.startswith("glue_"):
        glue = metric.removeprefix("glue_")
        ref_lines = [(i, _label(r)) for i, r in enumerate(read_lines(references), 1) if r]
        preds = [_label(p) for p in preds]
        _check_labels(glue, predictions, list(enumerate(preds, 1)))
        _check_labels(glue, references, ref_lines)
        refs: list[Any] = [r for _, r in ref_lines]
    else:
        refs = read_groups(references)
    if len(preds) != len(refs):
        raise ValueError(
            f"{predictions} has {len(preds)} predictions but {references} has {len(refs)} reference groups"
        )
    options = read_meta(meta, metric, len(preds)) if meta else {}
    if metric == "wikisql":
        if not options:
            raise ValueError("task wikisql needs meta=<jsonl file> with the table of every example")
        refs = [g[0] if len(g) == 1 else " ".join(g) for g in refs]
    result = score(metric, preds, refs, **options)
    out: dict[str, Any] = {}
    for key in metric_keys(metric):
        if key in result:
            out[key] = result[key]
        elif key in result.unavailable:
            out[key] = None
    out.update({k: v for k, v in result.items() if k not in out})
    if result.unavailable:
        out["unavailable"] = dict(result.unavailable)
    return out


def main(argv: list[str]) -> int:
    own, rest = split_args(argv, {"task": None, "predictions": None, "references": None, "meta": None})
    if rest:
        raise ValueError(f"unknown argument {rest[0]!r}; {USAGE}")
    missing = [k for k in ("task", "predictions", "references") if own[k] in (None, "")]
    if missing:
        raise ValueError(f"missing {missing[0]}=...; {USAGE}")
    meta = None if own["meta"] in (None, "") else str(own["meta"])
    result = run(str(own["task"]), str(own["predictions"]), str(own["references"]), meta)
    print(json.dumps(result))
    return 0
