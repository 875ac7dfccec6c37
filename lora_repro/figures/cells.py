"""A figure's cells as an ordinary grid: expanded, run (the missing ones) and read by the grid's code.

Each cell key of a figure spec becomes one row of a one-column table spec (the figure's model and
task) and goes through ``grid.cells.expand``, so a figure's cell and a table's cell with the same
config share one run directory (``runs/<profile>/<config hash>``). The base model a run was trained
on is rebuilt from its ``result.json`` config (the tiny profile's pretrained stand-in, a
``model.path`` directory or a hub id), and each adapter is loaded onto a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from lora_repro import rundir
from lora_repro.figures.spec import FigureSpec
from lora_repro.grid.cells import Cell, Grid, expand
from lora_repro.tables.spec import Column, Row, TableSpec

WIDTH_KEY = "model.tiny.hf_config.n_embd"  # the tiny stand-in's width (its own pretrained model)


@dataclass
class FigureCells:
    """The figure's grid and which cell fills each (cell key, seed)."""

    grid: Grid
    by_key: dict[tuple[str, int], Cell]

    def run_dir(self, key: str, seed: int) -> Path:
        """The run directory of cell ``key`` at ``seed``."""
        return self.by_key[(key, seed)].run_dir

    def missing(self) -> list[Cell]:
        """The cells that are not DONE (or whose files do not check out)."""
        return [c for c in self.grid.cells if not c.done]


def width_overrides(spec: FigureSpec, profile: str, width: Any) -> list[str]:
    """``model.tiny.hf_config.n_embd=<width>`` for the tiny profile (command line over spec), else none."""
    width = spec.width if width in (None, "") else width
    if width is None:
        return []
    if isinstance(width, bool) or not isinstance(width, int) or width < 8:
        raise ValueError(f"width={width!r}: expected an integer >= 8 (the tiny stand-in's n_embd)")
    if profile != "tiny":
        raise ValueError(
            f"width={width} sets the tiny stand-in's width; profile {profile!r} uses the real model"
        )
    return [f"{WIDTH_KEY}={width}"]


def figure_table_spec(spec: FigureSpec, overrides: list[str]) -> TableSpec:
    """The figure's cells as a table spec: one row per cell key, one column (the figure's task)."""
    if not spec.cells:
        raise ValueError(f"figure {spec.name} reads no cells of its own")
    rows = tuple(Row(label=c.key, model=spec.model, method=dict(c.method)) for c in spec.cells)
    column = Column(key=spec.task, task=spec.task, metric=None, label=spec.task)
    return TableSpec(
        table=f"figure{spec.name}",
        title=spec.title,
        aggregate="mean",
        seeds=tuple(sorted({s for c in spec.cells for s in c.seeds})),
        columns=(column,),
        rows=rows,
        overrides=(*spec.overrides, *overrides),
        path=spec.path,
    )


def figure_cells(
    spec: FigureSpec, profile: str, overrides: list[str], runs_root: Path, resolver: Any
) -> FigureCells:
    """Expand every cell key of ``spec`` at its own seeds into one grid (dependencies first)."""
    table = figure_table_spec(spec, overrides)
    cells: dict[str, Cell] = {}
    by_key: dict[tuple[str, int], Cell] = {}
    for i, c in enumerate(spec.cells):
        one = replace(table, rows=(table.rows[i],))
        grid = expand(one, profile, c.seeds, resolver=resolver, runs_root=runs_root)
        for cell in grid.cells:
            cells.setdefault(cell.id, cell)
        for (_, _, seed), cell_id in grid.slots.items():
            by_key[(c.key, seed)] = cells[cell_id]
    ordered = sorted(cells.values(), key=lambda x: len(x.deps))
    grid = Grid(spec=table, profile=profile, seeds=table.seeds, cells=ordered, slots={})
    return FigureCells(grid, by_key)


def missing_message(missing: list[Cell], command: str) -> str:
    """One line naming the cells a figure still lacks and the command that runs them."""
    names = ", ".join(f"{c.name} [{c.id}]" for c in missing[:6])
    more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
    return f"{len(missing)} cell(s) not done: {names}{more}; run them with: {command}"


def run_config(run_dir: Path) -> dict[str, Any]:
    """The resolved config a finished run recorded (``result.json``), or an error naming the run."""
    result = rundir.read_result(run_dir)
    if result is None:
        raise FileNotFoundError(f"{run_dir}: not a finished run (no DONE); run its cell first")
    config = result.get("config")
    if not isinstance(config, dict) or "model" not in config:
        raise ValueError(f"{run_dir / rundir.RESULT}: records no resolved config (its 'config' key)")
    return config


def _num_labels(adapter: Path) -> int | None:
    """An encoder adapter's head width (its classifier's output rows), None when it saved no head."""
    from safetensors import safe_open

    with safe_open(str(adapter / rundir.ADAPTER_WEIGHTS), "pt") as f:
        heads = [k for k in f.keys() if k.endswith(("classifier.out_proj.weight", "classifier.weight"))]
        return int(f.get_slice(heads[0]).get_shape()[0]) if heads else None


def base_model(run_dir: Path, cache: dict[str, nn.Module] | None = None) -> nn.Module:
    """The frozen base model a run trained on (loaded once per model config when ``cache`` is given)."""
    import json

    from lora_repro.models.load import load_model
    from lora_repro.tiny.pretrain import with_tiny_path

    config = run_config(run_dir)
    model_cfg, profile = config["model"], (config.get("profile") or {})
    name, cache_dir = profile.get("name", "tiny"), profile.get("cache_dir")
    key = json.dumps([model_cfg, name, cache_dir], sort_keys=True, default=str)
    if cache is not None and key in cache:
        return cache[key]
    num_labels = _num_labels(rundir.adapter_dir(run_dir)) if model_cfg.get("kind") == "encoder" else None
    loaded = load_model(with_tiny_path(model_cfg, name, cache_dir), name, cache_dir, num_labels=num_labels)
    model = loaded.model.eval()
    if cache is not None:
        cache[key] = model
    return model
