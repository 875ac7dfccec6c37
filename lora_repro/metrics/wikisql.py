"""WikiSQL logical-form and execution accuracy of generated SQL strings.

Predictions and references are SQL in the hub dataset's ``sql.human_readable`` form::

    SELECT {AGG} {column name} FROM table WHERE {column name} {op} {value} AND ...

(AGG in "", MAX, MIN, COUNT, SUM, AVG; op in =, >, <; whitespace collapsed). Each string is parsed
back into (sel, agg, conds) against its table's header: column names are matched longest first,
case-insensitively; a value runs to the next `` AND `` after which another condition parses.

* ``lf_accuracy`` (the paper's "WikiSQL Acc."): salesforce/WikiSQL ``Query.__eq__`` -- same sel,
  same agg, same *set* of (column, op, lower-cased value). A prediction that does not parse is wrong.
* ``ex_accuracy`` (not in the paper): both queries run on the example's table in an in-memory
  SQLite database as WikiSQL's ``DBEngine.execute(lower=True)`` does (text cells and string values
  lower-cased, values of ``real`` columns converted to numbers); equal result lists count.

Both on the 0-100 scale of Table 4.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lora_repro.metrics.common import Scores, check_counts

AGG_OPS = ("", "MAX", "MIN", "COUNT", "SUM", "AVG")
COND_OPS = ("=", ">", "<", "OP")
_NUM = re.compile(r"[-+]?\d*\.\d+|[-+]?\d+")


@dataclass(frozen=True)
class Query:
    """A WikiSQL logical form; equality is ``Query.__eq__`` of salesforce/WikiSQL (unordered conds)."""

    sel: int
    agg: int
    conds: tuple[tuple[int, int, str], ...]

    def key(self) -> tuple[int, int, frozenset]:
        return self.sel, self.agg, frozenset((c, o, str(v).lower()) for c, o, v in self.conds)


def _norm(text: str) -> str:
    return " ".join(str(text).split())


def parse_sql(sql: str, header: Sequence[str]) -> Query | None:
    """Parse a human-readable WikiSQL query against ``header``; None when it does not parse."""
    text = _norm(sql)
    m = re.match(r"(?i)select ", text)
    if not m:
        return None
    columns = sorted(((i, _norm(h)) for i, h in enumerate(header)), key=lambda t: -len(t[1]))
    rest = text[m.end() :]
    for agg_idx in (1, 2, 3, 4, 5, 0):
        agg = AGG_OPS[agg_idx]
        if agg:
            if not rest.upper().startswith(agg + " "):
                continue
            body = rest[len(agg) + 1 :]
        else:
            body = rest
        for sel, name in columns:
            if not body.lower().startswith(name.lower() + " from table"):
                continue
            tail = body[len(name) + len(" from table") :]
            if not tail:
                return Query(sel, agg_idx, ())
            if tail.lower().startswith(" where "):
                conds = _parse_conds(tail[len(" where ") :], columns)
                if conds is not None:
                    return Query(sel, agg_idx, tuple(conds))
    return None


def _parse_conds(text: str, columns: list[tuple[int, str]]) -> list[tuple[int, int, str]] | None:
    for col, name in columns:
        if not text.lower().startswith(name.lower() + " "):
            continue
        after = text[len(name) + 1 :]
        for op_idx, op in enumerate(COND_OPS):
            if after == op:
                return [(col, op_idx, "")]
            if not after.startswith(op + " "):
                continue
            value = after[len(op) + 1 :]
            pos = 0
            while True:
                j = value.lower().find(" and ", pos)
                if j < 0:
                    return [(col, op_idx, value)]
                tail = _parse_conds(value[j + 5 :], columns)
                if tail is not None:
                    return [(col, op_idx, value[:j])] + tail
                pos = j + 1
    return None


def _to_number(value: Any) -> float:
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        found = _NUM.findall(str(value))
        if not found:
            raise ValueError(f"not a number: {value!r}") from None
        return float(found[0])


class _TableDB:
    """One table in an in-memory SQLite database, as WikiSQL's DBEngine stores it (lower-cased text)."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.header = list(table["header"])
        self.types = list(table.get("types") or ["text"] * len(self.header))
        self.db = sqlite3.connect(":memory:")
        cols = ", ".join(f"col{i} {'real' if t == 'real' else 'text'}" for i, t in enumerate(self.types))
        self.db.execute(f"CREATE TABLE t ({cols})")
        rows = []
        for row in table.get("rows", []):
            cells = []
            for cell, kind in zip(row, self.types, strict=True):
                if kind == "real":
                    try:
                        cells.append(_to_number(cell))
                    except ValueError:
                        cells.append(str(cell).lower())
                else:
                    cells.append(str(cell).lower())
            rows.append(cells)
        if rows:
            self.db.executemany(f"INSERT INTO t VALUES ({', '.join('?' * len(self.types))})", rows)

    def execute(self, query: Query) -> list[Any]:
        select = f"col{query.sel}"
        if AGG_OPS[query.agg]:
            select = f"{AGG_OPS[query.agg]}({select})"
        where, params = [], []
        for col, op, value in query.conds:
            if COND_OPS[op] == "OP":
                raise ValueError("operator OP cannot be executed")
            params.append(_to_number(value) if self.types[col] == "real" else str(value).lower())
            where.append(f"col{col} {COND_OPS[op]} ?")
        sql = f"SELECT {select} AS result FROM t" + (" WHERE " + " AND ".join(where) if where else "")
        return [r[0] for r in self.db.execute(sql, params).fetchall()]


def _check_table(table: Any, i: int) -> dict[str, Any]:
    if not isinstance(table, dict) or "header" not in table:
        raise ValueError(f"tables[{i}] must be a dict with 'header' (and 'types', 'rows'), got {table!r:.80}")
    types = table.get("types")
    if types is not None and len(types) != len(table["header"]):
        raise ValueError(f"tables[{i}] has {len(table['header'])} header names but {len(types)} types")
    for j, row in enumerate(table.get("rows") or []):
        if len(row) != len(table["header"]):
            raise ValueError(
                f"tables[{i}] row {j} has {len(row)} cells but the header has {len(table['header'])}"
            )
    return table


def score_wikisql(
    predictions: Sequence[str], references: Sequence[Any], tables: Sequence[dict] | None = None
) -> Scores:
    """lf_accuracy and ex_accuracy (x100); ``tables`` = one {header, types, rows} per example."""
    refs = [r[0] if isinstance(r, list | tuple) and len(r) == 1 else r for r in references]
    check_counts(predictions, refs, "gold queries")
    if tables is None:
        raise ValueError("wikisql needs tables=[{header, types, rows}, ...], one per example")
    check_counts(predictions, tables, "tables")
    lf = ex = 0
    unparsed_gold = 0
    dbs: dict[int, _TableDB] = {}
    for i, (pred, gold, table) in enumerate(zip(predictions, refs, tables, strict=True)):
        if not isinstance(pred, str) or not isinstance(gold, str):
            raise ValueError(
                f"example {i}: prediction and gold query must be strings, got {pred!r}, {gold!r}"
            )
        table = _check_table(table, i)
        gq, pq = parse_sql(gold, table["header"]), parse_sql(pred, table["header"])
        if gq is None:
            unparsed_gold += 1
            lf += _norm(pred).lower() == _norm(gold).lower()
            continue
        if pq is None:
            continue
        lf += pq.key() == gq.key()
        if id(table) not in dbs:
            dbs[id(table)] = _TableDB(table)
        db = dbs[id(table)]
        try:
            ex += db.execute(pq) == db.execute(gq)
        except (ValueError, sqlite3.Error):
            pass
    if unparsed_gold:
        warnings.warn(
            f"{unparsed_gold} gold queries did not parse against their table header: "
            "scored by exact string match (lf) and as wrong (ex)",
            RuntimeWarning,
            stacklevel=2,
        )
    n = len(refs)
    return Scores(lf_accuracy=100.0 * lf / n, ex_accuracy=100.0 * ex / n)
