"""``lora-repro learnability [--dry-run] [tasks=mnli,sst2] [seeds=1,2,3] [launcher=local|parallel|slurm] [jobs=N] [out=DIR] [key=value ...]``.

Runs, for every row of ``configs/learnability.yaml`` (a task on a model; ``tasks=`` picks rows by
task name or ``task@model``), the untrained model (no training step) and LoRA and FT over the seeds,
skipping done cells, computes each row's trivial baseline from the task's data, and writes
``results/<profile>/learnability.{md,csv}``: baseline, untrained, LoRA and FT (median ± spread) and
whether the row clears its bar. Other ``key=value`` arguments are Hydra overrides added to every cell
(as for ``lora-repro table``); ``config=<file>`` reads another learnability spec; ``--dry-run`` lists
the cells and baselines and writes nothing. Exit 0 when every cell ran (even if a bar fails: the file
says FAIL), 1 when cells failed, 130 if interrupted, 2 for bad arguments.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lora_repro.config import load_group_file, split_args
from lora_repro.grid import cli as grid_cli
from lora_repro.learnability.cells import Plan, RowPlan, build_plan
from lora_repro.learnability.report import outcomes, summary_lines, write_report
from lora_repro.learnability.spec import load_spec

OWN: dict[str, Any] = {**grid_cli.OWN, "profile": None, "tasks": None, "config": None}


def parse_argv(argv: list[str]) -> tuple[bool, dict[str, Any], list[str]]:
    """(dry_run, own options, extra overrides) from the command line."""
    dry_run, positional, keyvals = grid_cli.split_argv(argv)
    if positional:
        raise ValueError(
            f"unexpected argument {positional[0]!r}: only key=value arguments, e.g. tasks=mnli,sst2 seeds=1,2"
        )
    own, overrides = split_args(keyvals, OWN)
    return dry_run, own, overrides


def reference_baseline(plan: RowPlan) -> dict[str, float]:
    """The row's baseline on the data of its first trained cell (its resolved config)."""
    from lora_repro.learnability.baselines import compute_baseline
    from lora_repro.train.cell import cell_config

    return compute_baseline(cell_config(list(plan.reference_cell.overrides)), plan.row.baseline)


def dry_run(plan: Plan, own: dict[str, Any]) -> int:
    """The grid's dry run (every cell and its status), then the baseline of each row."""
    grid_cli.dry_run(plan.grid, own)
    for p in plan.rows:
        print(
            f"baseline {p.row.key}: {p.row.baseline} (computed from the task's data when the report is written)"
        )
    return 0


def plan_from(argv: list[str], resolver: Any = None) -> tuple[bool, dict[str, Any], list[str], Plan]:
    """Parse and check everything, then expand the cells (nothing runs, nothing is written)."""
    is_dry, own, overrides = parse_argv(list(argv))
    spec = load_spec(own["config"]).select(own["tasks"])
    if own["profile"] in (None, ""):
        own["profile"] = spec.profile
    if own["profile"] != spec.profile:
        raise ValueError(
            f"profile={own['profile']!r}: the bars of {spec.path} are for profile {spec.profile!r}; "
            "give another spec with config=<file>"
        )
    grid_cli.check_own(own, overrides)
    load_group_file("launcher", own["launcher"])  # the launcher's config must exist
    seeds = grid_cli.parse_seeds(own["seeds"])
    cell_overrides = [o for o in overrides if not o.startswith(grid_cli.LAUNCHER_KEYS)]
    plan = build_plan(spec, seeds, cell_overrides, Path(own["runs"]), resolver)
    return is_dry, own, overrides, plan


def main(
    argv: list[str],
    command=None,  # noqa: ANN001
    resolver: Any = None,
    baseline_of: Callable[[RowPlan], dict[str, float] | None] | None = None,
) -> int:
    """Entry point of ``lora-repro learnability`` (tests pass a fake cell command, resolver and baseline)."""
    is_dry, own, overrides, plan = plan_from(argv, resolver)
    if is_dry:
        return dry_run(plan, own)
    report = grid_cli.launch(plan.grid, own, command, overrides)
    command_line = "lora-repro learnability " + " ".join(shlex.quote(a) for a in argv)
    rows = outcomes(plan, baseline_of or reference_baseline)
    out = Path(own["out"] or Path("results") / plan.spec.profile)
    paths = write_report(plan.spec, rows, grid_cli.provenance(plan.grid, command_line), out)
    for line in grid_cli.summary(plan.grid, report):
        print(line, file=sys.stderr)
    for line in summary_lines(rows):
        print(line)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if report.interrupted:
        return 130
    return 0 if report.ok else 1
