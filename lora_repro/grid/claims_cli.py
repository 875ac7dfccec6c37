"""``lora-repro claims [profile=tiny] [from=csv|runs] [tables=2,3] [runs=runs] [out=results/<profile>]``.

Judges every claim of ``configs/claims/table*.yaml`` on the paper's numbers and on ours, and writes
``results/<profile>/claims.md``. ``from=csv`` (default) reads each table's cells back from
``results/<profile>/tableN.csv`` (what ``lora-repro table N`` last wrote); ``from=runs`` aggregates
them from the run directories of the table's grid, as ``lora-repro table N`` does, without running
anything. A table with neither gives *not enough cells* for each of its claims.
"""

from __future__ import annotations

import csv
import shlex
from pathlib import Path
from typing import Any

from lora_repro.config import split_args
from lora_repro.tables.claims import (
    Cells,
    cells_from_csv,
    cells_from_results,
    claim_files,
    judge,
    load_claims,
)
from lora_repro.tables.claims_render import TableClaims, to_markdown
from lora_repro.tables.render import write_atomic
from lora_repro.tables.spec import load_spec

OWN: dict[str, Any] = {"profile": "tiny", "from": "csv", "tables": None, "runs": "runs", "out": None}
FROM = ("csv", "runs")


def _csv_cells(spec, path: Path) -> tuple[Cells, str]:  # noqa: ANN001
    if not path.is_file():
        return {}, f"none yet ({path} does not exist: run `lora-repro table {spec.table}`)"
    text = path.read_text()
    commits = sorted({line["commit"] for line in csv.DictReader(text.splitlines()) if line.get("commit")})
    return cells_from_csv(spec, text), f"{path} (cells computed at commit {', '.join(commits) or 'unknown'})"


def _run_cells(spec, own: dict[str, Any]) -> tuple[Cells, str]:  # noqa: ANN001
    from lora_repro.grid.cli import build_grid
    from lora_repro.tables.aggregate import collect

    grid = build_grid(str(spec.table), {**own, "seeds": None}, [])
    results = collect(grid.spec, grid.seeds, grid.run_dirs(), {c.run_dir: c.id for c in grid.cells})
    done = sum(c.done for c in grid.cells)
    return cells_from_results(
        results
    ), f"run directories under {own['runs']}/{own['profile']} ({done}/{len(grid.cells)} cells done)"


def judge_tables(own: dict[str, Any]) -> list[TableClaims]:
    """Every table with claims (or those in ``tables=``), judged."""
    tables = [p.stem.removeprefix("table") for p in claim_files()]
    if own["tables"] not in (None, ""):
        wanted = [str(t).strip() for t in str(own["tables"]).split(",")]
        unknown = [t for t in wanted if t not in tables]
        if unknown:
            raise ValueError(f"tables={own['tables']!r}: no claims for {unknown}; allowed: {tables}")
        tables = wanted
    out_dir = Path(own["out"] or Path("results") / own["profile"])
    judged = []
    for table in tables:
        spec = load_spec(table)
        if own["from"] == "csv":
            cells, source = _csv_cells(spec, out_dir / f"table{table}.csv")
        else:
            cells, source = _run_cells(spec, own)
        judged.append(TableClaims(spec, [judge(c, spec, cells) for c in load_claims(table)], source))
    return judged


def main(argv: list[str]) -> int:
    """Entry point of ``lora-repro claims``."""
    from lora_repro.config import git_commit

    own, rest = split_args(list(argv), OWN)
    if rest:
        raise ValueError(f"unknown argument {rest[0]!r}; allowed: {', '.join(f'{k}=' for k in OWN)}")
    if own["profile"] not in ("tiny", "paper"):
        raise ValueError(f"profile={own['profile']!r} not allowed; allowed: ['tiny', 'paper']")
    if own["from"] not in FROM:
        raise ValueError(f"from={own['from']!r} not allowed; allowed: {list(FROM)}")
    judged = judge_tables(own)
    command = "lora-repro claims" + "".join(" " + shlex.quote(a) for a in argv)
    path = Path(own["out"] or Path("results") / own["profile"]) / "claims.md"
    write_atomic(path, to_markdown(judged, command, own["profile"], git_commit()))
    print(f"wrote {path}")
    return 0
