"""Seeds aggregated the paper's way: the median (GLUE) or the mean (NLG) of each run's reported metric.

Each run's ``result.json`` already holds the metrics of its best validation epoch (``test`` for the
reported split, ``validation`` for the selection split). The spread is the sample standard deviation
over the seeds present (ddof=1, none for one seed). A (row, column) is *missing* when fewer seeds than
asked for have a DONE run; its value is then aggregated over the seeds present and marked.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_repro import rundir
from lora_repro.tables.spec import Column, Row, TableSpec

# (row index, task, seed) -> the run directory of the cell that fills it
Slot = tuple[int, str, int]


@dataclass
class Entry:
    """One (row, column) of the reproduced table: our aggregate, the paper's number, the difference."""

    column: Column
    values: list[float] = field(default_factory=list)  # one per seed present
    expected: int = 0
    value: float | None = None
    spread: float | None = None
    paper: float | None = None
    paper_spread: float | None = None
    paper_text: str = ""  # the paper's cell as printed, when it is not a single number
    note: str = ""  # why a value is missing

    @property
    def n(self) -> int:
        """How many seeds have a value."""
        return len(self.values)

    @property
    def complete(self) -> bool:
        """True when every asked-for seed has a value."""
        return self.value is not None and self.n >= self.expected

    @property
    def diff(self) -> float | None:
        """ours - paper, None when either is missing."""
        if self.value is None or self.paper is None:
            return None
        return self.value - self.paper


@dataclass
class RowResult:
    """One row of the reproduced table: its entries by column key, our |Θ|, its missing cells."""

    row: Row
    entries: dict[str, Entry]
    trainable: int | None  # our |Θ| (params.adapter), None when no run is done
    missing: list[str]  # "task seed N" for every cell this row still lacks


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except ValueError:
        return None
    return None if math.isnan(number) else number  # a metric that could not be computed


def aggregate(values: list[float], how: str) -> tuple[float | None, float | None]:
    """(median or mean, sample std) of ``values``; (None, None) when empty."""
    if not values:
        return None, None
    center = statistics.median(values) if how == "median" else statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else None
    return center, spread


def read_results(
    run_dirs: set[Path], hashes: dict[Path, str] | None = None
) -> tuple[dict[Path, dict[str, Any] | None], dict[Path, str]]:
    """Each run's result (None when not DONE) and, for runs whose files do not check out, the one
    line ``rundir.check_done`` gives naming the damaged file (the run then counts as missing)."""
    results: dict[Path, dict[str, Any] | None] = {}
    problems: dict[Path, str] = {}
    for d in run_dirs:
        try:
            results[d] = rundir.read_result(d, (hashes or {}).get(d))
        except rundir.DamagedRunError as err:
            results[d], problems[d] = None, str(err)
    return results, problems


def collect(
    spec: TableSpec, seeds: tuple[int, ...], run_dirs: dict[Slot, Path], hashes: dict[Path, str] | None = None
) -> list[RowResult]:
    """Aggregate the DONE runs of every row and column of ``spec`` over ``seeds``.

    ``run_dirs``: the run directory that fills each (row index, task, seed) slot (the grid's
    ``Grid.run_dirs()``); several slots may share one run. ``hashes``: the config hash each run
    directory must hold (a run of another cell counts as missing). A run whose files are damaged is
    missing too, its entry in ``RowResult.missing`` naming the file."""
    results, problems = read_results(set(run_dirs.values()), hashes)
    rows: list[RowResult] = []
    for i, row in enumerate(spec.rows):
        entries: dict[str, Entry] = {}
        trainable: int | None = None
        missing: list[str] = []
        for col in spec.columns:
            if col.task is None:
                continue
            entry = Entry(column=col, expected=len(seeds))
            for seed in seeds:
                run = run_dirs[(i, col.task, seed)]
                result = results[run]
                if result is None:
                    tag = f"{col.task} seed {seed}" + (f" ({problems[run]})" if run in problems else "")
                    if tag not in missing:
                        missing.append(tag)
                    continue
                if trainable is None:
                    trainable = (result.get("params") or {}).get("adapter")
                value = _number((result.get(col.split) or {}).get(col.metric))
                if value is None:
                    entry.note = f"no {col.split}.{col.metric} in result.json"
                    continue
                entry.values.append(value * col.scale)
            entry.value, entry.spread = aggregate(entry.values, spec.aggregate)
            entries[col.key] = entry
        for col in spec.columns:
            if col.average_of:
                entries[col.key] = _average(col, [entries[k] for k in col.average_of if k in entries])
        for entry in entries.values():
            raw = row.paper_values.get(entry.column.key)
            entry.paper = _number(raw)
            entry.paper_text = "" if raw is None else str(raw)
            entry.paper_spread = _number(row.paper_spread.get(entry.column.key))
        rows.append(RowResult(row=row, entries=entries, trainable=trainable, missing=missing))
    return rows


def _average(col: Column, parts: list[Entry]) -> Entry:
    """A computed column (GLUE Avg): the mean of the row's aggregated values, only when all are present."""
    entry = Entry(column=col, expected=min((p.expected for p in parts), default=0))
    if parts and all(p.value is not None for p in parts):
        entry.value = statistics.fmean(p.value for p in parts if p.value is not None)
        entry.values = [entry.value] * min(p.n for p in parts)
    else:
        entry.note = "averaged columns incomplete"
    return entry


def format_count(n: int | None, like: str | None = None) -> str:
    """|Θ| as the paper prints it (``0.39M``), with the paper's decimals; K or a plain count when tiny."""
    if n is None:
        return ""
    decimals = 2
    if like and like.rstrip().endswith("M"):
        head = like.strip().rstrip("M").replace(",", "")
        decimals = len(head.split(".")[1]) if "." in head else 0
    if n >= 10 ** (7 - max(decimals, 1)) or n >= 1_000_000:  # at least two significant digits in M
        return f"{n / 1e6:,.{decimals}f}M"
    if n >= 1000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def format_value(value: float | None, digits: int = 2) -> str:
    """A number with ``digits`` decimals, empty for None/NaN."""
    if value is None or math.isnan(value):
        return ""
    return f"{value:.{digits}f}"
