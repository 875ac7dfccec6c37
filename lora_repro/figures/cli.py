"""``lora-repro figure N|table7|all [--dry-run] [profile=tiny|paper] [width=W] [run=true|false] [launcher=...] [jobs=N] [runs=DIR] [out=DIR]``.

Runs the missing grid cells a figure reads (``configs/figure/figureN.yaml``: LoRA on W_q, W_v of the
GPT-3 stand-in on WikiSQL, r = 4, 8, 64, two seeds at r = 64), then computes and draws it: Figures 3, 4,
6, 7, 8 as PNG + PDF + CSV in ``results/<profile>/figures/``, ``table7`` as
``results/<profile>/table7.{md,csv}``, Figure 2 from Table 15's cells (never run here: it names the
missing ones), Figure 5 through ``lora-repro bench figure5``. ``all``: every figure and Table 7.
``width=W``: the tiny stand-in's n_embd for these cells (their own pretrained model and run
directories); ``run=false``: never train, fail naming the missing cells. ``--dry-run`` lists the cells.
Other ``key=value`` arguments are Hydra overrides added to every cell (they change the cells' hashes).
"""

from __future__ import annotations

import importlib
import shlex
import sys
from pathlib import Path
from typing import Any

from lora_repro.config import git_commit, split_args
from lora_repro.figures import compute, draw
from lora_repro.figures.accuracy import accuracy_points, skipped_rows_note, task_columns
from lora_repro.figures.cells import figure_cells, missing_message, width_overrides
from lora_repro.figures.spec import FigureSpec, figure_options, load_spec
from lora_repro.figures.table7 import write_table7
from lora_repro.grid import cli as grid_cli
from lora_repro.grid.cells import CachedResolver, configs_fingerprint, trainer_resolver
from lora_repro.tables.spec import load_spec as load_table_spec

OWN: dict[str, Any] = {**grid_cli.OWN, "width": None, "run": True}
ALL = ("3", "4", "6", "7", "8", "table7", "2")


def parse_argv(argv: list[str]) -> tuple[str, bool, dict[str, Any], list[str]]:
    """(figure name, dry_run, own options, extra overrides) from the command line."""
    dry_run, positional, keyvals = grid_cli.split_argv(argv)
    if len(positional) != 1:
        raise ValueError(
            f"expected exactly one figure, got {positional or 'none'}; allowed: {[*figure_options(), 'all']}"
        )
    own, overrides = split_args(keyvals, OWN)
    grid_cli.check_own(own, overrides)
    if not isinstance(own["run"], bool):
        raise ValueError(f"run={own['run']!r}: expected true or false")
    return str(positional[0]), dry_run, own, overrides


def header(own: dict[str, Any], argv: list[str], spec: FigureSpec) -> list[str]:
    """Provenance lines for a figure's CSV and Table 7's Markdown."""
    import matplotlib

    command = "lora-repro figure " + " ".join(shlex.quote(a) for a in argv)
    return [
        f"produced by: {command}",
        f"profile: {own['profile']}; commit: {git_commit()}; matplotlib {matplotlib.__version__}",
        f"spec: configs/figure/{spec.path.name if spec.path else spec.name}",
    ]


def out_dir(own: dict[str, Any]) -> Path:
    """``results/<profile>`` unless ``out=`` says otherwise."""
    return Path(own["out"] or Path("results") / own["profile"])


def figure2(spec: FigureSpec, own: dict[str, Any], overrides: list[str], argv: list[str], resolver) -> int:  # noqa: ANN001
    """Figure 2 from Table 15's cells; names the missing ones instead of running them."""
    grid = grid_cli.build_grid(spec.table or "15", own, overrides, resolver)
    missing = [c for c in grid.cells if not c.done]
    if missing:
        extra = " ".join(shlex.quote(o) for o in overrides)
        command = f"lora-repro table {spec.table} profile={own['profile']} runs={own['runs']} {extra}".strip()
        raise ValueError(f"figure {spec.name}: Table {spec.table}'s " + missing_message(missing, command))
    points = accuracy_points(grid)
    stem = out_dir(own) / "figures" / f"figure{spec.name}"
    caption = [spec.caption, "Top: ours (the tiny stand-in's |Θ|); bottom: the paper's printed numbers."]
    table = spec.table or "15"
    skipped = skipped_rows_note(table, load_table_spec(table), own["profile"])
    if skipped:
        caption.append(skipped)
    paths = draw.accuracy_scatter(points, task_columns(grid), spec.title, caption, stem)
    lines = [*header(own, argv, spec), *([skipped] if skipped else [])]
    paths.append(draw.write_csv(stem.with_suffix(".csv"), points, lines))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def adapter_figure(
    spec: FigureSpec, own: dict[str, Any], overrides: list[str], argv: list[str], ctx: dict
) -> int:
    """Figures 3, 4, 6, 7, 8 and Table 7: run the missing cells, compute, draw, write."""
    extra = width_overrides(spec, own["profile"], own["width"])
    runs = Path(own["runs"])
    cells = figure_cells(spec, own["profile"], [*overrides, *extra], runs, ctx["resolver"])
    if ctx["dry_run"]:
        return grid_cli.dry_run(cells.grid, own)
    missing = cells.missing()
    if missing and not own["run"]:
        command = "lora-repro figure " + " ".join(shlex.quote(a) for a in argv if a != "run=false")
        raise ValueError(f"figure {spec.name}: " + missing_message(missing, command))
    if missing:
        report = grid_cli.launch(cells.grid, own, ctx["command"], overrides)
        if not report.ok:
            for line in grid_cli.summary(cells.grid, report):
                print(line, file=sys.stderr)
            return 130 if report.interrupted else 1
    adapters = compute.Adapters(spec, cells)
    lines = header(own, argv, spec)
    if spec.kind == "table7":
        paths = write_table7(spec, compute.table7_numbers(spec, adapters), out_dir(own), lines)
    else:
        if spec.kind == "subspace":
            data = compute.subspace_figure(spec, adapters)
        else:
            data = compute.directions_figure(spec, adapters)
        stem = out_dir(own) / "figures" / f"figure{spec.name}"
        paths = draw.heatmaps(data.panels, spec.title, [spec.caption, *data.notes], stem)
        paths.append(draw.write_csv(stem.with_suffix(".csv"), data.rows, [*lines, *data.notes]))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def one(name: str, own: dict[str, Any], overrides: list[str], argv: list[str], ctx: dict) -> int:
    """Draw one figure (or Table 7)."""
    spec = load_spec(name)
    if spec.kind == "bench":
        try:
            bench = importlib.import_module("lora_repro.bench.cli")
        except ModuleNotFoundError:
            raise ValueError(
                f"figure {name} is drawn by `lora-repro bench figure5`, which is not installed"
            ) from None
        rest = [a for a in argv if a != name and not a.startswith(("width=", "run="))]
        return int(bench.main(["figure5", *rest]) or 0)
    if spec.kind == "accuracy":
        if ctx["dry_run"]:
            return grid_cli.dry_run(
                grid_cli.build_grid(spec.table or "15", own, overrides, ctx["resolver"]), own
            )
        return figure2(spec, own, overrides, argv, ctx["resolver"])
    return adapter_figure(spec, own, overrides, argv, ctx)


def main(argv: list[str], command=None, resolver=None) -> int:  # noqa: ANN001
    """Entry point of ``lora-repro figure``: 0 when drawn, 1 when a cell failed, 2 on bad input."""
    name, is_dry, own, overrides = parse_argv(list(argv))
    cached = None
    if resolver is None:
        runs = Path(own["runs"]) / own["profile"]
        cached = CachedResolver(trainer_resolver, runs / ".resolved.json", configs_fingerprint())
    ctx = {"dry_run": is_dry, "command": command, "resolver": resolver or cached}
    try:
        if name != "all":
            return one(name, own, overrides, list(argv), ctx)
        rcs = []
        for n in ALL:  # one figure's bad input (Table 15's cells missing) does not stop the others
            try:
                rcs.append(one(n, own, overrides, [n if a == "all" else a for a in argv], ctx))
            except ValueError as err:
                print(f"lora-repro figure {n}: error: {err}", file=sys.stderr)
                rcs.append(2)
        return max(rcs)
    finally:
        if cached is not None:
            cached.save()
