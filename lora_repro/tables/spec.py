"""Table specs: ``configs/table/tableN.yaml`` read into dataclasses, with one clear error per bad key.

A spec names the rows (model, method and its options, the † and * marks, the paper's numbers), the
columns (task and metric), the seeds and how they are aggregated (median for GLUE, mean for NLG).
See docs/tables.md for the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lora_repro.config import config_dir

AGGREGATES = ("mean", "median")
AVG_KEY = "Avg"


@dataclass(frozen=True)
class Column:
    """One metric column: ``key`` names it in the spec, ``task`` and ``metric`` say where its value comes from."""

    key: str
    task: str | None
    metric: str | None
    label: str
    split: str = "test"
    scale: float = 1.0
    average_of: tuple[str, ...] = ()  # a computed column: mean of these columns (e.g. GLUE "Avg")


@dataclass(frozen=True)
class Row:
    """One row of the table: a model, a method with its options, and the paper's numbers."""

    label: str
    model: str
    method: dict[str, Any]
    dagger: bool = False
    cited: bool = False
    overrides: tuple[str, ...] = ()
    paper_trainable: str | None = None
    paper_values: dict[str, Any] = field(default_factory=dict)
    paper_spread: dict[str, Any] = field(default_factory=dict)

    @property
    def method_name(self) -> str:
        """The row's method name (``lora``, ``adapter_h``, ...)."""
        return str(self.method["name"])


@dataclass(frozen=True)
class TableSpec:
    """A whole paper table: its rows and columns, the seeds and the aggregation over them."""

    table: int | str
    title: str
    aggregate: str
    seeds: tuple[int, ...]
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    overrides: tuple[str, ...] = ()
    path: Path | None = None

    def column(self, key: str) -> Column:
        """The column with this key."""
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(f"table {self.table} has no column {key!r}; allowed: {[c.key for c in self.columns]}")


SELECTOR_KEYS = ("label", "model", "method", "dagger", "cited")


def row_matches(row: Row, selector: dict[str, Any]) -> bool:
    """True when ``row`` has every field of ``selector``: ``label``, ``model``, ``dagger``, ``cited``
    equal, and ``method`` a name, a list of names, or a mapping whose options the row's method has."""
    unknown = sorted(set(selector) - set(SELECTOR_KEYS) - {"table"})
    if unknown:
        raise ValueError(f"row selector {selector!r}: unknown keys {unknown}; allowed: {list(SELECTOR_KEYS)}")
    for key in ("label", "model", "dagger", "cited"):
        if key in selector and getattr(row, key) != selector[key]:
            return False
    method = selector.get("method")
    if method is None:
        return True
    if isinstance(method, list):  # any of these method names
        return row.method_name in method
    wanted = {"name": method} if isinstance(method, str) else dict(method)
    return all(row.method.get(k) == v for k, v in wanted.items())


def select_rows(spec: TableSpec, selector: dict[str, Any]) -> list[int]:
    """The indices of ``spec``'s rows that :func:`row_matches` ``selector``."""
    return [i for i, row in enumerate(spec.rows) if row_matches(row, selector)]


def table_options() -> list[str]:
    """The table numbers that have a spec in ``configs/table/``."""
    names = sorted(p.stem for p in (config_dir() / "table").glob("table*.yaml"))
    return [n.removeprefix("table") for n in names]


def spec_path(table: int | str) -> Path:
    """``configs/table/table<N>.yaml``, or ``table`` itself when it is a path to a YAML file."""
    text = str(table)
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"table spec {path} not found")
        return path
    path = config_dir() / "table" / f"table{text}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown table {text!r}; allowed: {table_options()}")
    return path


def _need(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d or d[key] is None:
        raise ValueError(f"{where}: missing key {key!r}")
    return d[key]


def _column(raw: dict[str, Any], where: str) -> Column:
    key = str(_need(raw, "key", where))
    average_of = tuple(str(k) for k in raw.get("average_of") or ())
    task = raw.get("task")
    if not average_of and task is None:
        raise ValueError(f"{where} ({key}): a column needs a 'task' (or 'average_of' for a computed column)")
    return Column(
        key=key,
        task=str(task) if task is not None else None,
        metric=str(raw.get("metric", key)) if task is not None else None,
        label=str(raw.get("label", key)),
        split=str(raw.get("split", "test")),
        scale=float(raw.get("scale", 1.0)),
        average_of=average_of,
    )


def _row(raw: dict[str, Any], where: str) -> Row:
    label = str(_need(raw, "label", where))
    where = f"{where} ({label!r})"
    method = _need(raw, "method", where)
    if isinstance(method, str):
        method = {"name": method}
    if not isinstance(method, dict) or "name" not in method:
        raise ValueError(f"{where}: 'method' must be a name or a mapping with 'name', got {method!r}")
    paper = raw.get("paper") or {}
    trainable = paper.get("trainable")
    values = dict(paper.get("values") or {})
    if paper.get("avg") is not None:  # the paper's Avg column (Table 2)
        values[AVG_KEY] = paper["avg"]
    return Row(
        label=label,
        model=str(_need(raw, "model", where)),
        method=dict(method),
        dagger=bool(raw.get("dagger", False)),
        cited=bool(raw.get("cited", False)),
        overrides=tuple(str(o) for o in raw.get("overrides") or ()),
        paper_trainable=None if trainable is None else str(trainable),
        paper_values=values,
        paper_spread=dict(paper.get("spread") or {}),
    )


def parse_spec(raw: dict[str, Any], path: Path | None = None) -> TableSpec:
    """Validate a spec mapping (as read from YAML) and build a :class:`TableSpec`."""
    where = str(path) if path else "table spec"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a table spec must be a mapping, got {type(raw).__name__}")
    aggregate = str(raw.get("aggregate", "mean"))
    if aggregate not in AGGREGATES:
        raise ValueError(f"{where}: aggregate {aggregate!r} not allowed; allowed: {list(AGGREGATES)}")
    seeds = raw.get("seeds") or [1]
    if not all(isinstance(s, int) for s in seeds):
        raise ValueError(f"{where}: seeds must be integers, got {seeds!r}")
    columns = tuple(_column(c, f"{where} columns[{i}]") for i, c in enumerate(_need(raw, "columns", where)))
    keys = [c.key for c in columns]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{where}: duplicate column keys in {keys}")
    for col in columns:
        unknown = [k for k in col.average_of if k not in keys]
        if unknown:
            raise ValueError(
                f"{where}: column {col.key!r} averages unknown columns {unknown}; allowed: {keys}"
            )
    rows = tuple(_row(r, f"{where} rows[{i}]") for i, r in enumerate(_need(raw, "rows", where)))
    if any(AVG_KEY in r.paper_values for r in rows) and AVG_KEY not in keys:
        # rows with paper.avg get a computed Avg column: the mean of the row's metric columns
        tasks = tuple(c.key for c in columns if c.task is not None)
        columns = (*columns, Column(key=AVG_KEY, task=None, metric=None, label=AVG_KEY, average_of=tasks))
    return TableSpec(
        table=raw.get("table", path.stem.removeprefix("table") if path else "?"),
        title=str(raw.get("title", "")),
        aggregate=aggregate,
        seeds=tuple(int(s) for s in seeds),
        columns=columns,
        rows=rows,
        overrides=tuple(str(o) for o in raw.get("overrides") or ()),
        path=path,
    )


def load_spec(table: int | str) -> TableSpec:
    """Read and validate the spec of table ``table`` (a number, or a path to a YAML file)."""
    path = spec_path(table)
    return parse_spec(yaml.safe_load(path.read_text()), path)
