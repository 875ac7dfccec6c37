"""A paper table as a wandb dashboard: ``lora-repro table N logger=wandb``.

Every cell the command runs is a wandb run (train/loggers.py) whose config holds ``logger.table``,
``logger.rows`` and ``logger.columns`` (the table, the rows it fills and their column keys), whose
tags are ``tableN``, ``row:<label>`` and ``task:<task>``, and whose group is
``tableN/row<i>: <label>``, the first row it fills: the wandb UI then shows one group per table row.
After the table is written, one more run (group ``tableN``, job type ``table``) logs the rendered
table as a ``wandb.Table`` (row, column, ours, spread, seeds, paper, Δ) and the claims verdicts of
``configs/claims/tableN.yaml`` as a second ``wandb.Table``, with each verdict in its summary.

The logger keys are outside a cell's hash (train/cell.py ``HASH_EXCLUDE``): a table logged to wandb
shares its cells with the same table run without it. A cell done before is not rerun, so it logs
nothing new; the table run still has its numbers.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from lora_repro.config import load_group_file
from lora_repro.grid.cells import Grid, hydra_value

TABLE_COLUMNS = ["row", "label", "column", "task", "metric", "ours", "spread", "seeds", "paper", "delta"]
CLAIM_COLUMNS = ["claim", "text", "where", "paper", "ours", "ours_lhs", "ours_rhs", "missing"]


def wants_wandb(overrides: list[str]) -> bool:
    """True when the table's overrides choose ``logger=wandb``."""
    return any(o.strip() in ("logger=wandb", "+logger=wandb") for o in overrides)


def row_group(table: str, index: int, label: str) -> str:
    """The wandb group of a table row: ``table4/row8: GPT-3 (LoRA)`` (unique when labels repeat)."""
    return f"table{table}/row{index + 1}: {label}"


def _rows_of_cells(grid: Grid) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for (i, _task, _seed), cell_id in sorted(grid.slots.items()):
        if i not in rows.setdefault(cell_id, []):
            rows[cell_id].append(i)
    return rows


def tag_cells(grid: Grid) -> Grid:
    """The grid with every cell's wandb group, tags and table coordinates added to its overrides."""
    spec, table = grid.spec, str(grid.spec.table)
    rows_of = _rows_of_cells(grid)
    cells = []
    for cell in grid.cells:
        rows = rows_of.get(cell.id) or []
        labels = [spec.rows[i].label for i in rows]
        columns = [c.key for c in spec.columns if c.task == cell.task]
        group = row_group(table, rows[0], labels[0]) if rows else f"table{table}/dependency"
        tags = [f"table{table}", *dict.fromkeys(f"row:{label}" for label in labels), f"task:{cell.task}"]
        extra = (
            f"logger.group={hydra_value(group)}",
            f"logger.tags={hydra_value(tags)}",
            f"logger.table={hydra_value(table)}",
            f"logger.rows={hydra_value([f'row{i + 1}: {spec.rows[i].label}' for i in rows])}",
            f"logger.columns={hydra_value(columns)}",
        )
        cells.append(replace(cell, overrides=(*cell.overrides, *extra)))
    return Grid(spec=spec, profile=grid.profile, seeds=grid.seeds, cells=cells, slots=dict(grid.slots))


def logger_settings(overrides: list[str]) -> dict[str, Any]:
    """configs/logger/wandb.yaml with the command line's ``logger.<key>=`` overrides applied."""
    import yaml

    settings = dict(load_group_file("logger", "wandb"))
    for o in overrides:
        key, _, value = o.partition("=")
        if key.startswith("logger.") and "." not in key[len("logger.") :]:
            settings[key[len("logger.") :]] = yaml.safe_load(value) if value else None
    return settings


def table_rows(results: list) -> list[list[Any]]:  # noqa: ANN001  (tables.aggregate.RowResult)
    """One line per (row, column) of the rendered table, in :data:`TABLE_COLUMNS` order."""
    out = []
    for i, r in enumerate(results):
        for key, e in r.entries.items():
            col = e.column
            out.append([
                i + 1, r.row.label, key, col.task, col.metric,
                e.value, e.spread, e.n, e.paper, e.diff,
            ])  # fmt: skip
    return out


def claim_rows(verdicts: list) -> list[list[Any]]:  # noqa: ANN001  (tables.claims.Verdict)
    """One line per claim, in :data:`CLAIM_COLUMNS` order."""
    return [
        [
            v.claim.id,
            v.claim.text,
            v.claim.where,
            v.paper,
            v.ours,
            v.ours_lhs,
            v.ours_rhs,
            "; ".join(v.missing),
        ]
        for v in verdicts
    ]


def log_table(grid: Grid, overrides: list[str], command_line: str, runs_root: Path) -> str:
    """Log the rendered table (and its claims) as one wandb run; returns that run's directory."""
    import wandb

    from lora_repro.tables.aggregate import collect
    from lora_repro.tables.claims import cells_from_results, judge, load_claims

    spec, table = grid.spec, str(grid.spec.table)
    results = collect(spec, grid.seeds, grid.run_dirs(), {c.run_dir: c.id for c in grid.cells})
    lg = logger_settings(overrides)
    where = Path(lg.get("dir") or runs_root / grid.profile / "wandb-tables" / f"table{table}")
    where.mkdir(parents=True, exist_ok=True)
    claims = load_claims(table) if str(table).isdigit() else []
    verdicts = [judge(c, spec, cells_from_results(results)) for c in claims]
    run = wandb.init(
        project=lg.get("project") or "lora-repro",
        entity=lg.get("entity"),
        group=f"table{table}",
        job_type="table",
        name=f"table{table}/{grid.profile}",
        tags=[f"table{table}", "table", *list(lg.get("tags") or [])],
        dir=str(where),
        mode=os.environ.get("WANDB_MODE") or lg.get("mode") or "offline",
        config={
            "table": table, "title": spec.title, "profile": grid.profile, "seeds": list(grid.seeds),
            "command": command_line, "cells": len(grid.cells), "rows": [r.label for r in spec.rows],
        },
    )  # fmt: skip
    try:
        record = {f"table{table}": wandb.Table(columns=TABLE_COLUMNS, data=table_rows(results))}
        if verdicts:
            record[f"table{table}/claims"] = wandb.Table(columns=CLAIM_COLUMNS, data=claim_rows(verdicts))
        run.log(record)
        run.summary.update({f"claims/{v.claim.id}": v.ours for v in verdicts})
        run.summary.update({"cells_done": sum(c.done for c in grid.cells), "cells": len(grid.cells)})
        run_dir = str(run.dir)
    finally:
        run.finish()
        wandb.teardown()
    return str(Path(run_dir).parent)
