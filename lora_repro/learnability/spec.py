"""``configs/learnability.yaml`` read into dataclasses, with one clear error per bad key.

The rows (task x model), their metrics, baselines and bars, the methods and seeds, and how the
untrained model is run are data in that file; this module only checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from lora_repro.config import config_dir

BAR_KINDS = ("above_baseline", "above_untrained", "at_least")
# the task kinds each baseline applies to (lora_repro/learnability/baselines.py implements them)
BASELINE_KINDS = {
    "majority": "classification",
    "mean": "regression",
    "first_slot_value": "generation",
    "first_triple": "generation",
    "select_first_column": "generation",
    "lead_1": "generation",
}
ROW_KEYS = {"task", "model", "metrics", "baseline", "bar", "label"}
BAR_KEYS = {"kind", "points", "value", "methods", "metrics"}
TOP_KEYS = {"profile", "title", "seeds", "ceiling", "methods", "untrained", "rows"}


def default_path() -> Path:
    """``configs/learnability.yaml``."""
    return config_dir() / "learnability.yaml"


@dataclass(frozen=True)
class Bar:
    """What a row must reach: ``kind`` (BAR_KINDS) with ``points`` above a reference or a ``value``."""

    kind: str
    amount: float  # points above the baseline / untrained model, or the value to reach (at_least)
    methods: tuple[str, ...]
    metrics: tuple[str, ...]

    def text(self, labels: dict[str, str]) -> str:
        """``LoRA, FT accuracy, f1 >= baseline + 15`` (``labels``: method name -> column label)."""
        who = ", ".join(labels.get(m, m) for m in self.methods)
        what = ", ".join(self.metrics)
        ref = {"above_baseline": "baseline + ", "above_untrained": "untrained + ", "at_least": ""}[self.kind]
        return f"{who} {what} ≥ {ref}{self.amount:g}"


@dataclass(frozen=True)
class LRow:
    """One row: a task on a model, the metrics it reports, its baseline and its bar."""

    task: str
    model: str
    metrics: tuple[str, ...]
    baseline: str
    bar: Bar
    label: str = ""

    @property
    def key(self) -> str:
        """``task@model``: names the row on the command line (``tasks=mnli@gpt3-175b``)."""
        return f"{self.task}@{self.model}"

    @property
    def name(self) -> str:
        return self.label or self.task


@dataclass(frozen=True)
class Untrained:
    """How the untrained model is run: a method, overrides (no training step) and seeds."""

    method: str
    overrides: tuple[str, ...]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class LearnSpec:
    """The whole learnability check."""

    profile: str
    title: str
    seeds: tuple[int, ...]
    ceiling: float
    methods: tuple[tuple[str, str], ...]  # (method name, column label)
    untrained: Untrained
    rows: tuple[LRow, ...]
    path: Path | None = None

    @property
    def labels(self) -> dict[str, str]:
        """Method name -> column label."""
        return dict(self.methods)

    def select(self, wanted: Any) -> LearnSpec:
        """Only the rows named in ``wanted`` (``"mnli,sst2"`` or a list; a task name or ``task@model``)."""
        if wanted in (None, "", []):
            return self
        names = wanted if isinstance(wanted, (list, tuple)) else str(wanted).split(",")
        names = [str(n).strip() for n in names if str(n).strip()]
        allowed = list(dict.fromkeys([r.task for r in self.rows] + [r.key for r in self.rows]))
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise ValueError(f"tasks={wanted!r}: unknown row {unknown or names}; allowed: {allowed}")
        rows = tuple(r for r in self.rows if r.task in names or r.key in names)
        return replace(self, rows=rows)


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(s, int) for s in value):
        raise ValueError(f"{where}: seeds must be a non-empty list of integers, got {value!r}")
    return tuple(value)


def _unknown(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise ValueError(f"{where}: unknown key {extra[0]!r}; allowed: {sorted(allowed)}")


def _need(raw: dict[str, Any], key: str, where: str) -> Any:
    if raw.get(key) in (None, "", []):
        raise ValueError(f"{where}: missing key {key!r}")
    return raw[key]


def _names(value: Any, where: str, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValueError(f"{where}: {key} must be a name or a non-empty list of names, got {value!r}")
    return tuple(str(v) for v in items)


def _bar(raw: Any, metrics: tuple[str, ...], methods: tuple[str, ...], where: str) -> Bar:
    where = f"{where} bar"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping with 'kind', got {raw!r}")
    _unknown(raw, BAR_KEYS, where)
    kind = str(_need(raw, "kind", where))
    if kind not in BAR_KINDS:
        raise ValueError(f"{where}: kind {kind!r} not allowed; allowed: {list(BAR_KINDS)}")
    amount_key = "value" if kind == "at_least" else "points"
    amount = _need(raw, amount_key, where)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ValueError(f"{where}: {amount_key} must be a number, got {amount!r}")
    bar_methods = _names(raw["methods"], where, "methods") if raw.get("methods") else methods
    bar_metrics = _names(raw["metrics"], where, "metrics") if raw.get("metrics") else metrics
    for got, allowed, key in ((bar_methods, methods, "method"), (bar_metrics, metrics, "metric")):
        bad = [g for g in got if g not in allowed]
        if bad:
            raise ValueError(f"{where}: unknown {key} {bad[0]!r}; allowed: {list(allowed)}")
    return Bar(kind, float(amount), bar_methods, bar_metrics)


def _check_task(row: LRow, where: str) -> None:
    """The task exists, the metrics are keys of its metric, the baseline fits its kind."""
    from lora_repro.config import group_options
    from lora_repro.metrics import metric_keys
    from lora_repro.tasks import get_task

    if row.model not in group_options("model"):
        raise ValueError(f"{where}: unknown model {row.model!r}; allowed: {group_options('model')}")
    try:
        task = get_task(row.task, profile="tiny")  # reads no data: only the metric name and the kind
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    keys = metric_keys(task.metric)
    bad = [m for m in row.metrics if m not in keys]
    if bad:
        raise ValueError(f"{where}: task {row.task} has no metric {bad[0]!r}; allowed: {list(keys)}")
    if BASELINE_KINDS[row.baseline] != task.kind:
        fits = [k for k, v in BASELINE_KINDS.items() if v == task.kind]
        raise ValueError(
            f"{where}: baseline {row.baseline!r} is for {BASELINE_KINDS[row.baseline]} tasks, "
            f"{row.task} is a {task.kind} task; allowed: {fits}"
        )


def _row(raw: Any, methods: tuple[str, ...], where: str) -> LRow:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a row must be a mapping, got {raw!r}")
    _unknown(raw, ROW_KEYS, where)
    task, model = str(_need(raw, "task", where)), str(_need(raw, "model", where))
    where = f"{where} ({task}@{model})"
    metrics = _names(_need(raw, "metrics", where), where, "metrics")
    baseline = str(_need(raw, "baseline", where))
    if baseline not in BASELINE_KINDS:
        raise ValueError(f"{where}: baseline {baseline!r} not allowed; allowed: {list(BASELINE_KINDS)}")
    bar = _bar(_need(raw, "bar", where), metrics, methods, where)
    row = LRow(task, model, metrics, baseline, bar, str(raw.get("label") or ""))
    _check_task(row, where)
    return row


def parse_spec(raw: Any, path: Path | None = None) -> LearnSpec:
    """Validate a learnability mapping (as read from YAML) and build a :class:`LearnSpec`."""
    where = str(path) if path else "learnability spec"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    _unknown(raw, TOP_KEYS, where)
    methods_raw = _need(raw, "methods", where)
    if not isinstance(methods_raw, list) or not all(
        isinstance(m, dict) and m.get("name") for m in methods_raw
    ):
        raise ValueError(f"{where}: methods must be a list of {{name, label}}, got {methods_raw!r}")
    methods = tuple((str(m["name"]), str(m.get("label") or m["name"])) for m in methods_raw)
    names = tuple(m for m, _ in methods)
    un = _need(raw, "untrained", where)
    if not isinstance(un, dict):
        raise ValueError(f"{where}: untrained must be a mapping {{method, overrides, seeds}}, got {un!r}")
    _unknown(un, {"method", "overrides", "seeds"}, f"{where} untrained")
    untrained = Untrained(
        method=str(_need(un, "method", f"{where} untrained")),
        overrides=tuple(str(o) for o in un.get("overrides") or ()),
        seeds=_seeds(un.get("seeds", [1]), f"{where} untrained"),
    )
    rows_raw = _need(raw, "rows", where)
    if not isinstance(rows_raw, list):
        raise ValueError(f"{where}: rows must be a list, got {rows_raw!r}")
    rows = tuple(_row(r, names, f"{where} rows[{i}]") for i, r in enumerate(rows_raw))
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{where}: duplicate rows {sorted({k for k in keys if keys.count(k) > 1})}")
    ceiling = raw.get("ceiling", 98)
    if isinstance(ceiling, bool) or not isinstance(ceiling, (int, float)):
        raise ValueError(f"{where}: ceiling must be a number, got {ceiling!r}")
    return LearnSpec(
        profile=str(raw.get("profile", "tiny")),
        title=str(raw.get("title", "Learnability")),
        seeds=_seeds(raw.get("seeds", [1, 2, 3]), where),
        ceiling=float(ceiling),
        methods=methods,
        untrained=untrained,
        rows=rows,
        path=path,
    )


def load_spec(path: str | Path | None = None) -> LearnSpec:
    """Read and validate ``path`` (default ``configs/learnability.yaml``)."""
    path = Path(path) if path else default_path()
    if not path.is_file():
        raise FileNotFoundError(f"learnability spec {path} not found")
    return parse_spec(yaml.safe_load(path.read_text()), path)
