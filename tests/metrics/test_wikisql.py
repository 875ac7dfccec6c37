"""WikiSQL: parsing human-readable SQL against the header, Query.__eq__ and SQLite execution."""

from __future__ import annotations

import pytest

from lora_repro.metrics import score
from lora_repro.metrics.wikisql import Query, parse_sql

TABLE = {
    "header": ["Player", "No.", "Position", "Team", "Count"],
    "types": ["text", "real", "text", "text", "real"],
    "rows": [
        ["Tom Smith", "42", "Guard", "Tom and Jerry", "3"],
        ["Ann Lee", "7", "Forward", "Bulls", "1"],
        ["Bo Diaz", "12", "Guard", "Bulls", "5"],
    ],
}
HEADER = TABLE["header"]


def test_parse_agg_columns_and_values_with_and():
    q = parse_sql("SELECT COUNT Player FROM table WHERE Team = Tom and Jerry AND No. > 5", HEADER)
    assert q == Query(0, 3, ((3, 0, "Tom and Jerry"), (1, 1, "5")))
    assert parse_sql("SELECT Count FROM table", HEADER) == Query(4, 0, ())  # a column named like an aggregate
    assert parse_sql("SELECT  MAX   No. FROM table WHERE Position = Guard", HEADER) == Query(
        1, 1, ((2, 0, "Guard"),)
    )
    assert parse_sql("SELECT Salary FROM table", HEADER) is None
    assert parse_sql("the answer is 42", HEADER) is None


def test_logical_form_accuracy_is_query_eq():
    gold = "SELECT Player FROM table WHERE Position = Guard AND Team = Bulls"
    preds = [
        "SELECT Player FROM table WHERE Team = bulls AND Position = GUARD",  # order and case of values: equal
        "SELECT COUNT Player FROM table WHERE Position = Guard AND Team = Bulls",  # different agg
        "SELECT Player FROM table WHERE Position = Guard",  # a missing condition
        "SELECT Player FROM",  # does not parse
    ]
    out = score("wikisql", preds, [gold] * 4, tables=[TABLE] * 4)
    assert out["lf_accuracy"] == 25.0
    assert out["ex_accuracy"] == 25.0


def test_execution_accuracy_counts_equal_results():
    gold = "SELECT Player FROM table WHERE No. = 42"
    preds = [
        "SELECT Player FROM table WHERE No. = 42.0",  # lf differs ("42" vs "42.0"), same rows
        "SELECT Player FROM table WHERE Team = Tom and Jerry",  # another query, same answer
        "SELECT Player FROM table WHERE No. = 7",
    ]
    out = score("wikisql", preds, [gold] * 3, tables=[TABLE] * 3)
    assert out["lf_accuracy"] == 0.0
    assert out["ex_accuracy"] == pytest.approx(200 / 3)
    # SUM over guards (3 + 5) equals SUM over No. > 10 (42, 12 -> 3 + 5); "7" > "10" would hold as text
    agg = score(
        "wikisql",
        ["SELECT SUM Count FROM table WHERE Position = guard"],
        ["SELECT SUM Count FROM table WHERE No. > 10"],
        tables=[TABLE],
    )
    assert dict(agg) == {"lf_accuracy": 0.0, "ex_accuracy": 100.0}


def test_tables_are_required_and_checked():
    with pytest.raises(ValueError, match="wikisql needs tables"):
        score("wikisql", ["SELECT Player FROM table"], ["SELECT Player FROM table"])
    with pytest.raises(ValueError, match="1 predictions but 2 tables"):
        score("wikisql", ["SELECT Player FROM table"], ["SELECT Player FROM table"], tables=[TABLE, TABLE])
    bad = dict(TABLE, rows=[["only one cell"]])
    with pytest.raises(ValueError, match="row 0 has 1 cells but the header has 5"):
        score("wikisql", ["SELECT Player FROM table"], ["SELECT Player FROM table"], tables=[bad])
