"""``lora-repro table all [--dry-run] [--index-only] [profile=tiny|paper] [seeds=..] [launcher=..] [jobs=N] [runs=DIR] [out=DIR]``.

Every table with a spec in ``configs/table/`` (found by globbing, so a new spec joins by existing),
then the figures and the claims, then the index ``results/<profile>/README.md``:

1. the run tables' grids are expanded and merged into one list of cells: a cell two tables share
   (the same config hash) runs once, and the cells are grouped by model (each tiny model is
   pretrained once, before any cell, by the grid's ``pretrain_first``), dependencies first;
2. the missing cells run (one launcher call for all of them), then every table is rendered as
   ``lora-repro table N`` renders it (the same header, so either command leaves the same file);
3. the hyperparameter tables (``kind: hparams``: 9-12, 17) are rendered, never run;
4. ``lora-repro figure all`` and ``lora-repro claims``; 5. the index (lora_repro/grid/index.py).

A rerun finds every cell done, rewrites no file whose content is unchanged, and takes seconds.
``--dry-run``: per table its cells and how many are done, and the cells shared between tables.
``--index-only``: only step 5 (``lora-repro index``).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from lora_repro.config import split_args
from lora_repro.grid import cli as grid_cli
from lora_repro.grid import index
from lora_repro.grid.cells import Cell, Grid

FLAGS = ("--dry-run", "--index-only")


def parse_argv(argv: list[str]) -> tuple[set[str], dict[str, Any], list[str]]:
    """(flags, own options, extra overrides); the one positional argument is ``all``."""
    flags = {a for a in argv if a in FLAGS}
    rest = [a for a in argv if a not in FLAGS and a != "all"]
    bad = [a for a in rest if a.startswith("-") or "=" not in a]
    if bad:
        raise ValueError(f"table all: unexpected argument {bad[0]!r}; allowed: {list(FLAGS)} and key=value")
    own, overrides = split_args(rest, grid_cli.OWN)
    grid_cli.check_own(own, overrides)
    return flags, own, overrides


def split_specs(spec_dir: Path | None = None) -> tuple[list[Path], list[Path]]:
    """(run tables, hyperparameter tables): the spec files, each list in table order."""
    runs, audits = [], []
    for path in index.spec_files(spec_dir):
        raw = yaml.safe_load(path.read_text()) or {}
        (audits if raw.get("kind") == "hparams" else runs).append(path)
    return runs, audits


def merged_cells(grids: list[Grid]) -> list[Cell]:
    """Every grid's cells once (by config hash), grouped by model in first-seen order, dependencies first."""
    unique: dict[str, Cell] = {}
    for grid in grids:
        for cell in grid.cells:
            unique.setdefault(cell.id, cell)
    models = list(dict.fromkeys(c.model for c in unique.values()))
    return sorted(unique.values(), key=lambda c: (models.index(c.model), len(c.deps)))


def table_argv(table: str, argv: list[str]) -> list[str]:
    """The ``lora-repro table N`` arguments equivalent to this ``table all`` call for one table."""
    return [table, *[a for a in argv if a not in FLAGS and a != "all"]]


def dry_run(grids: list[Grid], audits: list[Path], cells: list[Cell]) -> int:
    total = sum(len(g.cells) for g in grids)
    for g in grids:
        done = sum(c.done for c in g.cells)
        print(f"table {g.spec.table}: {len(g.cells)} cells, {done} done, {len(g.cells) - done} to run")
    for path in audits:
        print(f"table {path.stem.removeprefix('table')}: hyperparameter audit (rendered, nothing runs)")
    done = sum(c.done for c in cells)
    print(
        f"all: {len(cells)} distinct cells ({total - len(cells)} shared between tables), {done} done, "
        f"{len(cells) - done} to run; models in order: {', '.join(dict.fromkeys(c.model for c in cells))}"
    )
    return 0


def run_figures(own: dict[str, Any]) -> int:
    """``lora-repro figure all`` through the command line's dispatch (figures import the grid)."""
    from lora_repro import cli

    return cli.main(["figure", "all", *own_args(own)])


def run_audit(path: Path, own: dict[str, Any]) -> int:
    """``lora-repro table N profile=<profile>`` of a hyperparameter table (an audit: nothing runs)."""
    number = path.stem.removeprefix("table")
    return grid_cli.hparams_table(
        [number, f"profile={own['profile']}"] + ([f"out={own['out']}"] if own["out"] else [])
    )


def run_claims(own: dict[str, Any]) -> int:
    from lora_repro.grid import claims_cli

    args = [f"profile={own['profile']}", f"runs={own['runs']}"] + (
        [f"out={own['out']}"] if own["out"] else []
    )
    return claims_cli.main(args)


def own_args(own: dict[str, Any]) -> list[str]:
    """The grid options worth passing on to the figure command."""
    keys = ("profile", "launcher", "jobs", "runs", "out", "spawn")
    return [f"{k}={own[k]}" for k in keys if own.get(k) not in (None, "") and k in own]


def main(argv: list[str], command=None, resolver=None, spec_dir: Path | None = None) -> int:  # noqa: ANN001
    """Entry point of ``lora-repro table all``: 0 when every step succeeded, 1 otherwise, 130 if interrupted."""
    flags, own, overrides = parse_argv(list(argv))
    if "--index-only" in flags:
        if overrides:
            raise ValueError(f"--index-only runs nothing: {overrides[0]!r} is not allowed")
        return index.main([f"{k}={own[k]}" for k in ("profile", "runs", "out") if own[k]], resolver, spec_dir)
    tables, audits = split_specs(spec_dir)
    grids = [grid_cli.build_grid(str(p), own, overrides, resolver) for p in tables]
    cells = merged_cells(grids)
    if "--dry-run" in flags:
        return dry_run(grids, audits, cells)
    first = grids[0].spec if grids else None
    ok = True
    if cells and first is not None:
        combined = Grid(
            spec=replace(first, table="all"), profile=own["profile"], seeds=(), cells=cells, slots={}
        )
        report = grid_cli.launch(combined, own, command, overrides)
        for line in grid_cli.summary(combined, report):
            print(line, file=sys.stderr)
        if report.interrupted:
            return 130
        ok = report.ok
    for grid in grids:
        line = "lora-repro table " + " ".join(shlex.quote(a) for a in table_argv(str(grid.spec.table), argv))
        paths = grid_cli.render(grid, own, line)
        print(f"wrote {', '.join(str(p) for p in paths.values())}")
    for path in audits:
        ok &= run_audit(path, own) == 0
    ok &= run_figures(own) == 0
    ok &= run_claims(own) == 0
    print(f"wrote {index.write_index(own, spec_dir, resolver)}")
    return 0 if ok else 1
