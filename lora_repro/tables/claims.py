"""The paper's claims as data, judged on a table's cells: holds, does not hold, or not enough cells.

A claim file ``configs/claims/tableN.yaml`` lists, for one table spec, statements the paper draws
from it, each a predicate ``lhs <op> rhs`` over the table's cells with a tolerance taken from the
paper's own spread. A side selects rows (the row selectors of :func:`lora_repro.tables.spec.row_matches`)
and columns, and reduces their values (``mean``, ``max`` or ``min``). Ops, with tolerance ``t``:

* ``>=`` matches or exceeds: ``lhs >= rhs - t``;  ``<=``: ``lhs <= rhs + t``
* ``>`` exceeds by more than the noise: ``lhs > rhs + t``;  ``<``: ``lhs < rhs - t``
* ``~`` the same within the noise: ``|lhs - rhs| <= t``

The same predicate is judged on the paper's numbers (the spec's) and on ours; a side with any cell
that is missing or has seeds missing gives *not enough cells*. A claim is judged, never tuned to.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lora_repro.config import config_dir
from lora_repro.tables.aggregate import RowResult
from lora_repro.tables.spec import TableSpec, select_rows

OPS = (">=", "<=", ">", "<", "~")
REDUCES = ("mean", "max", "min")
HOLDS, FAILS, NOT_ENOUGH = "holds", "does not hold", "not enough cells"


@dataclass(frozen=True)
class Side:
    """Rows x columns of a table, reduced to one number."""

    rows: tuple[dict[str, Any], ...]
    columns: tuple[str, ...]
    reduce: str = "mean"


@dataclass(frozen=True)
class Claim:
    """One statement of the paper as a predicate over one table's cells."""

    id: str
    table: str
    text: str
    where: str  # the paper's section or table that states it
    lhs: Side
    op: str
    rhs: Side
    tolerance: float
    tolerance_why: str = ""


@dataclass(frozen=True)
class CellValue:
    """One (row, column): our value, whether all its seeds are done, and the paper's number."""

    ours: float | None
    complete: bool
    paper: float | None


Cells = dict[tuple[int, str], CellValue]  # (row index, column key) -> value


@dataclass
class Verdict:
    """A claim judged on the paper's numbers and on ours."""

    claim: Claim
    paper_lhs: float | None
    paper_rhs: float | None
    paper: str
    ours_lhs: float | None
    ours_rhs: float | None
    ours: str
    missing: list[str]  # "row label: column" cells that lack a complete value of ours


def _side(raw: Any, where: str) -> Side:
    if not isinstance(raw, dict) or "rows" not in raw or "columns" not in raw:
        raise ValueError(f"{where}: a side needs 'rows' (row selectors) and 'columns', got {raw!r}")
    reduce = str(raw.get("reduce", "mean"))
    if reduce not in REDUCES:
        raise ValueError(f"{where}: reduce={reduce!r}; allowed: {list(REDUCES)}")
    rows = raw["rows"] if isinstance(raw["rows"], list) else [raw["rows"]]
    columns = raw["columns"] if isinstance(raw["columns"], list) else [raw["columns"]]
    return Side(tuple(dict(r) for r in rows), tuple(str(c) for c in columns), reduce)


def parse_claims(raw: dict[str, Any], path: Path | None = None) -> list[Claim]:
    """Validate a claim file's mapping (``table``, ``claims``) into :class:`Claim` objects."""
    where = str(path) if path else "claims"
    if not isinstance(raw, dict) or "table" not in raw:
        raise ValueError(f"{where}: missing key 'table'")
    out, seen = [], set()
    for i, c in enumerate(raw.get("claims") or []):
        cw = f"{where} claims[{i}]"
        for key in ("id", "text", "lhs", "op", "rhs", "tolerance"):
            if key not in c:
                raise ValueError(f"{cw}: missing key {key!r}")
        if c["op"] not in OPS:
            raise ValueError(f"{cw}: op={c['op']!r}; allowed: {list(OPS)}")
        if not isinstance(c["tolerance"], (int, float)) or c["tolerance"] < 0:
            raise ValueError(f"{cw}: tolerance={c['tolerance']!r}; expected a number >= 0")
        if c["id"] in seen:
            raise ValueError(f"{cw}: duplicate claim id {c['id']!r}")
        seen.add(c["id"])
        out.append(
            Claim(
                id=str(c["id"]),
                table=str(raw["table"]),
                text=str(c["text"]),
                where=str(c.get("where", "")),
                lhs=_side(c["lhs"], f"{cw} lhs"),
                op=str(c["op"]),
                rhs=_side(c["rhs"], f"{cw} rhs"),
                tolerance=float(c["tolerance"]),
                tolerance_why=str(c.get("tolerance_why", "")),
            )  # fmt: skip
        )
    return out


def claim_files() -> list[Path]:
    """``configs/claims/table*.yaml``, in table order."""
    files = (config_dir() / "claims").glob("table*.yaml")
    return sorted(files, key=lambda p: (len(p.stem), p.stem))


def load_claims(table: str) -> list[Claim]:
    """The claims of table ``table`` (none when it has no claim file)."""
    path = config_dir() / "claims" / f"table{table}.yaml"
    return parse_claims(yaml.safe_load(path.read_text()), path) if path.is_file() else []


def cells_from_results(results: list[RowResult]) -> Cells:
    """The cells of a table aggregated from run directories (:func:`lora_repro.tables.aggregate.collect`)."""
    return {
        (i, key): CellValue(e.value, e.complete, e.paper)
        for i, r in enumerate(results)
        for key, e in r.entries.items()
    }


def _float(text: str) -> float | None:
    try:
        return float(text) if text.strip() else None
    except ValueError:
        return None


def cells_from_csv(spec: TableSpec, text: str) -> Cells:
    """The cells of a table read back from its ``tableN.csv`` (rows matched by label, † and printed |Θ|)."""
    index: dict[tuple[str, bool, str], int] = {}
    for i, row in enumerate(spec.rows):
        key = (row.label, row.dagger, row.paper_trainable or "")
        if key in index:
            raise ValueError(f"table {spec.table}: rows {index[key]} and {i} cannot be told apart in its CSV")
        index[key] = i
    cells: Cells = {}
    for line in csv.DictReader(io.StringIO(text)):
        key = (line["row"], line["dagger"] == "1", line["trainable_paper"])
        if key not in index:
            continue  # a row the spec no longer has
        i = index[key]
        ours = _float(line["ours"])
        done = ours is not None and int(line["n_seeds"] or 0) >= int(line["n_expected"] or 0)
        paper = spec.rows[i].paper_values.get(line["column"])
        cells[(i, line["column"])] = CellValue(ours, done, _float(str(paper)) if paper is not None else None)
    return cells


def paper_cells(spec: TableSpec) -> Cells:
    """The paper's numbers alone (ours absent): what a claim says about the paper's own table."""
    return {
        (i, key): CellValue(None, False, _float(str(v)))
        for i, row in enumerate(spec.rows)
        for key, v in row.paper_values.items()
    }


def side_cells(spec: TableSpec, side: Side) -> list[tuple[int, str]]:
    """The (row index, column key) cells a side selects; an empty selection is a spec error."""
    rows: list[int] = []
    for sel in side.rows:
        found = select_rows(spec, sel)
        if not found:
            raise ValueError(f"claim on table {spec.table}: no row matches {sel!r}")
        rows += [i for i in found if i not in rows]
    keys = [c.key for c in spec.columns]
    bad = [c for c in side.columns if c not in keys]
    if bad:
        raise ValueError(f"claim on table {spec.table}: unknown columns {bad}; allowed: {keys}")
    return [(i, c) for i in rows for c in side.columns]


def reduce(values: list[float], how: str) -> float:
    """mean, max or min of ``values``."""
    return {"mean": statistics.fmean, "max": max, "min": min}[how](values)


def holds(lhs: float, op: str, rhs: float, tol: float) -> bool:
    """The predicate ``lhs op rhs`` with tolerance ``tol`` (see the module docstring)."""
    if op == ">=":
        return lhs >= rhs - tol
    if op == "<=":
        return lhs <= rhs + tol
    if op == ">":
        return lhs > rhs + tol
    if op == "<":
        return lhs < rhs - tol
    return abs(lhs - rhs) <= tol


def _value(cells: Cells, spec: TableSpec, side: Side, ours: bool) -> tuple[float | None, list[str]]:
    values, missing = [], []
    for i, col in side_cells(spec, side):
        cell = cells.get((i, col))
        v = None if cell is None else (cell.ours if ours else cell.paper)
        if v is None or (ours and not cell.complete):
            missing.append(f"{spec.rows[i].label}{'†' if spec.rows[i].dagger else ''}: {col}")
        else:
            values.append(v)
    return (None if missing else reduce(values, side.reduce)), missing


def judge(claim: Claim, spec: TableSpec, cells: Cells) -> Verdict:
    """Judge ``claim`` on the paper's numbers of ``spec`` and on our ``cells``."""
    paper = paper_cells(spec)
    p_l, p_miss = _value(paper, spec, claim.lhs, ours=False)
    p_r, p_miss2 = _value(paper, spec, claim.rhs, ours=False)
    o_l, o_miss = _value(cells, spec, claim.lhs, ours=True)
    o_r, o_miss2 = _value(cells, spec, claim.rhs, ours=True)

    def verdict(a: float | None, b: float | None) -> str:
        if a is None or b is None:
            return NOT_ENOUGH
        return HOLDS if holds(a, claim.op, b, claim.tolerance) else FAILS

    missing = list(dict.fromkeys(o_miss + o_miss2))
    return Verdict(claim, p_l, p_r, verdict(p_l, p_r), o_l, o_r, verdict(o_l, o_r), missing)
