"""The cells of the learnability check, built with the grid's own expansion (``grid.cells.expand``).

Each row becomes two small table specs on its task: the trained one (one spec row per method,
``seeds``) and the untrained one (``untrained.method`` with ``untrained.overrides``, its own seeds).
``expand`` gives their cells (run dirs ``runs/<profile>/<hash>``; a LoRA MRPC/RTE/STS-B cell waits
for its MNLI cell, as in Table 2); the cells of all rows, deduplicated by hash, form one grid that
``grid.cli.launch`` runs and the report aggregates with ``tables.aggregate.collect``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lora_repro.grid.cells import CachedResolver, Cell, Grid, configs_fingerprint, expand, trainer_resolver
from lora_repro.learnability.spec import LearnSpec, LRow
from lora_repro.tables.spec import Column, Row, TableSpec

UNTRAINED = "untrained"


@dataclass
class RowPlan:
    """One learnability row: its trained and untrained specs and the grids that fill them."""

    row: LRow
    trained: TableSpec
    trained_grid: Grid
    untrained: TableSpec
    untrained_grid: Grid

    @property
    def reference_cell(self) -> Cell:
        """The first trained cell of the row's own task: its resolved config gives the baseline's data."""
        slot = (0, self.row.task, self.trained_grid.seeds[0])
        return self.trained_grid.cell(self.trained_grid.slots[slot])


@dataclass
class Plan:
    """Every row's plan and one grid with all their cells (deduplicated, dependencies first)."""

    spec: LearnSpec
    rows: list[RowPlan]
    grid: Grid


def row_specs(
    spec: LearnSpec, row: LRow, seeds: tuple[int, ...], overrides: list[str]
) -> tuple[TableSpec, TableSpec]:
    """(trained, untrained) table specs of one row; ``overrides`` go to every cell."""
    columns = tuple(Column(key=m, task=row.task, metric=m, label=m) for m in row.metrics)
    common = {"aggregate": "median", "columns": columns, "overrides": tuple(overrides), "path": spec.path}
    trained = TableSpec(
        table=f"learnability {row.key}",
        title=f"{row.name} on {row.model}",
        seeds=seeds,
        rows=tuple(Row(label=label, model=row.model, method={"name": name}) for name, label in spec.methods),
        **common,
    )
    un = spec.untrained
    untrained_row = Row(
        label=UNTRAINED, model=row.model, method={"name": un.method}, dagger=True, overrides=un.overrides
    )
    untrained = TableSpec(
        table=f"learnability {row.key} {UNTRAINED}",
        title=f"{row.name} on {row.model}, untrained",
        seeds=un.seeds,
        rows=(untrained_row,),
        **common,
    )
    return trained, untrained


def build_plan(
    spec: LearnSpec,
    seeds: tuple[int, ...] | None,
    overrides: list[str],
    runs: Path,
    resolver: Any = None,
) -> Plan:
    """Expand every row of ``spec`` into cells (``resolver``: tests pass an override hash)."""
    seeds = seeds or spec.seeds
    cached = None
    if resolver is None:
        path = runs / spec.profile / ".resolved.json"
        resolver = cached = CachedResolver(trainer_resolver, path, configs_fingerprint())
    plans: list[RowPlan] = []
    for row in spec.rows:
        trained, untrained = row_specs(spec, row, seeds, overrides)
        grids = [
            expand(s, spec.profile, s.seeds, resolver=resolver, runs_root=runs) for s in (trained, untrained)
        ]
        plans.append(RowPlan(row, trained, grids[0], untrained, grids[1]))
    if cached is not None:
        cached.save()
    cells: dict[str, Cell] = {}
    for plan in plans:  # untrained cells first: they are the quickest
        for cell in plan.untrained_grid.cells:
            cells.setdefault(cell.id, cell)
    for plan in plans:
        for cell in plan.trained_grid.cells:
            cells.setdefault(cell.id, cell)
    ordered = sorted(cells.values(), key=lambda c: len(c.deps))  # stable: MNLI before MRPC
    whole = TableSpec(
        table="learnability", title=spec.title, aggregate="median", seeds=seeds, columns=(), rows=(),
        overrides=tuple(overrides), path=spec.path,
    )  # fmt: skip
    return Plan(spec, plans, Grid(spec=whole, profile=spec.profile, seeds=seeds, cells=ordered, slots={}))
