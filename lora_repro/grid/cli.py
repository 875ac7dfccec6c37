"""``lora-repro table N [--dry-run] [profile=tiny|paper] [seeds=1,2] [launcher=local|parallel|slurm] [jobs=N]``.

The launcher defaults to ``parallel`` with one job per CPU core in the tiny profile (each tiny cell
uses one thread) and to ``local`` (one cell after another) in the paper profile.

Runs every missing cell of paper table N (skipping done ones), then writes
``results/<profile>/tableN.{md,csv,tex}``. Other ``key=value`` arguments are Hydra overrides added to
every cell (e.g. ``train.epochs=1``; they change the cells' hashes, so those are other runs).
``--dry-run`` lists the cells, which are done, and for the paper profile an estimate of GPU hours.
``lora-repro table all [--dry-run] [--index-only]``: every table, the figures, the claims and the
index results/<profile>/README.md (lora_repro/grid/all.py).
"""

from __future__ import annotations

import importlib
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from lora_repro.config import load_group_file, split_args
from lora_repro.grid import dashboard
from lora_repro.grid.cells import CachedResolver, Grid, configs_fingerprint, expand, trainer_resolver
from lora_repro.grid.profile_spec import for_profile
from lora_repro.grid.run import RunReport, run_cells, train_command
from lora_repro.tables.spec import load_spec

PROFILES = ("tiny", "paper")
LAUNCHERS = ("local", "parallel", "slurm")
SPAWNS = ("auto", "fork", "exec")
OWN: dict[str, Any] = {
    "profile": "tiny", "seeds": None, "launcher": None, "jobs": None, "runs": "runs", "out": None,
    "progress": True, "gpu_tflops": None, "spawn": "auto", "plot": True,
}  # fmt: skip


def parse_seeds(value: Any) -> tuple[int, ...] | None:
    """``seeds=1,2,3`` (or a YAML list, or one int) as a tuple of ints."""
    if value is None or value == "":
        return None
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    try:
        return tuple(int(str(s).strip()) for s in items)
    except ValueError:
        raise ValueError(
            f"seeds={value!r}: expected integers separated by commas, e.g. seeds=1,2,3"
        ) from None


def resolve_jobs(launcher: str, jobs: Any) -> tuple[int, list[str] | None]:
    """Number of local job slots, and the GPU of each slot when there are GPUs (parallel launcher)."""
    gpus: list[str] | None = None
    if launcher == "parallel":
        import os

        import torch

        n_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
        gpus = [str(i) for i in range(n_gpu)] or None
        if jobs in (None, "auto"):
            jobs = n_gpu or (os.cpu_count() or 1)
    if jobs in (None, "auto"):
        jobs = 1
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r}: expected a positive integer or auto")
    return jobs, gpus


LAUNCHER_KEYS = ("hydra.", "hydra/", "cell_cmd=")  # go to the SLURM submission, not to the cells


def split_argv(argv: list[str]) -> tuple[bool, list[str], list[str]]:
    """(--dry-run given, positional arguments, key=value arguments); any other flag is an error."""
    rest = [a for a in argv if a != "--dry-run"]
    flags = [a for a in rest if a.startswith("-")]
    if flags:
        raise ValueError(f"unknown option {flags[0]!r}; allowed: --dry-run")
    return "--dry-run" in argv, [a for a in rest if "=" not in a], [a for a in rest if "=" in a]


def parse_argv(argv: list[str]) -> tuple[str, bool, dict[str, Any], list[str]]:
    """(table, dry_run, own options, extra overrides) from the command line."""
    dry_run, positional, keyvals = split_argv(argv)
    if len(positional) != 1:
        raise ValueError(
            f"expected exactly one table number, got {positional or 'none'}; e.g. lora-repro table 3"
        )
    own, overrides = split_args(keyvals, OWN)
    check_own(own, overrides)
    return positional[0], dry_run, own, overrides


def check_own(own: dict[str, Any], overrides: list[str]) -> None:
    """Check the grid options (profile, launcher, spawn, SLURM keys) and fill in the default launcher."""
    if own["profile"] not in PROFILES:
        raise ValueError(f"profile={own['profile']!r} not allowed; allowed: {list(PROFILES)}")
    if own["launcher"] in (None, ""):
        own["launcher"] = (
            "parallel" if own["profile"] == "tiny" and own["jobs"] in (None, "auto") else "local"
        )
    if own["launcher"] not in LAUNCHERS:
        raise ValueError(f"launcher={own['launcher']!r} not allowed; allowed: {list(LAUNCHERS)}")
    if own["spawn"] not in SPAWNS:
        raise ValueError(f"spawn={own['spawn']!r} not allowed; allowed: {list(SPAWNS)}")
    for flag in ("plot", "progress"):
        if not isinstance(own.get(flag, True), bool):
            raise ValueError(f"{flag}={own[flag]!r} not allowed; allowed: true, false")
    launcher_args = [o for o in overrides if o.startswith(LAUNCHER_KEYS)]
    if launcher_args and own["launcher"] != "slurm":
        raise ValueError(f"{launcher_args[0]!r} configures the SLURM submission: only with launcher=slurm")
    if own["launcher"] == "local" and isinstance(own["jobs"], int) and own["jobs"] > 1:
        own["launcher"] = "parallel"


def build_grid(table: str, own: dict[str, Any], overrides: list[str], resolver=None) -> Grid:  # noqa: ANN001
    """Load the spec of ``table`` and expand it for the chosen profile and seeds."""
    spec = for_profile(load_spec(table), own["profile"])  # the spec's profiles: block (Table 18)
    cell_overrides = [o for o in overrides if not o.startswith(LAUNCHER_KEYS)]
    if cell_overrides:
        spec = replace(spec, overrides=(*spec.overrides, *cell_overrides))
    seeds = parse_seeds(own["seeds"])
    runs = Path(own["runs"])
    if resolver is not None:
        return expand(spec, own["profile"], seeds, resolver=resolver, runs_root=runs)
    cached = CachedResolver(trainer_resolver, runs / own["profile"] / ".resolved.json", configs_fingerprint())
    grid = expand(spec, own["profile"], seeds, resolver=cached, runs_root=runs)
    cached.save()
    return grid


def dry_run(grid: Grid, own: dict[str, Any]) -> int:
    """Print every cell, whether it is done, and (paper profile) its estimated GPU hours."""
    from lora_repro.grid.estimate import GPU_TFLOPS, estimate_cell

    tflops = float(own["gpu_tflops"] or GPU_TFLOPS)
    total_h = 0.0
    n_done = 0
    for cell in grid.cells:
        status = "done" if cell.done else ("partial" if cell.log_path.is_file() else "missing")
        n_done += cell.done
        line = f"{status:<8} {cell.id}  {cell.name}"
        if cell.deps:
            line += f"  after {','.join(cell.deps)}"
        if grid.profile == "paper":
            est = estimate_cell(cell.model, cell.method_spec, cell.task, cell.config, tflops)
            total_h += 0 if cell.done else est.gpu_hours
            line += (
                f"  ~{est.gpu_hours:.2f} GPU-h (N={est.n_total / 1e6:.1f}M, |Θ|={est.n_trainable / 1e6:.2f}M)"
            )
        print(line)
        print(f"         {' '.join(cell.overrides)}  -> {cell.run_dir}")
    todo = len(grid.cells) - n_done
    print(f"table {grid.spec.table}: {len(grid.cells)} cells, {n_done} done, {todo} to run")
    if grid.profile == "paper":
        print(
            f"estimated GPU hours to run the missing cells: {total_h:.1f} (at {tflops:g} achieved TFLOP/s per GPU)"
        )
    return 0


def pick_spawn(spawn: str, profile: str, gpus: list[str] | None):  # noqa: ANN201
    """``fork`` (warm forked children) for CPU runs on Linux, else ``exec`` (a fresh ``lora-repro train``)."""
    if spawn == "auto":
        spawn = "fork" if profile == "tiny" and not gpus and sys.platform.startswith("linux") else "exec"
    if spawn == "fork":
        from lora_repro.grid.fork import ForkSpawn

        return ForkSpawn()
    return train_command


def missing_tiny_models(grid: Grid) -> dict[str, tuple[dict[str, Any], str | None]]:
    """The tiny models the grid's unfinished cells need and the cache lacks: {directory: (model config,
    cache dir)}. Cells with ``model.path=`` (a local model) need none."""
    from lora_repro.tiny.pretrain import is_pretrained, tiny_model_dir

    todo: dict[str, tuple[dict[str, Any], str | None]] = {}
    if grid.profile != "tiny":
        return todo
    for cell in grid.cells:
        given = dict(o.split("=", 1) for o in cell.overrides if "=" in o)
        if cell.done or given.get("model.path"):
            continue
        model = load_group_file("model", cell.model)
        if not model.get("tiny"):
            continue
        cache = given.get("profile.cache_dir")
        path = tiny_model_dir(model, cache)
        if not is_pretrained(path):
            todo.setdefault(str(path), (model, cache))
    return todo


def _pretrain(args: tuple[dict[str, Any], str | None]) -> str:
    from lora_repro.tiny.pretrain import ensure_pretrained

    model, cache = args
    return str(ensure_pretrained(model, cache, progress=False))


def pretrain_first(grid: Grid, jobs: int) -> list[str]:
    """Tiny profile: pretrain the missing tiny models, up to ``jobs`` at once, before any cell runs.

    Otherwise the first cell of a model pretrains it (up to ~14 minutes) while every other cell of
    that model waits on its lock and a core idles. Returns the directories it made.
    """
    todo = missing_tiny_models(grid)
    if not todo:
        return []
    import multiprocessing

    names = ", ".join(model["name"] for model, _ in todo.values())
    print(f"pretraining tiny models first ({min(jobs, len(todo))} at a time): {names}", file=sys.stderr)
    if jobs == 1 or len(todo) == 1:
        return [_pretrain(args) for args in todo.values()]
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(todo))) as pool:
        return pool.map(_pretrain, list(todo.values()), chunksize=1)


def launch(grid: Grid, own: dict[str, Any], command=None, extra: list[str] | None = None) -> RunReport:  # noqa: ANN001
    """Run the grid's missing cells with the chosen launcher (``extra``: overrides of the SLURM submission)."""
    if own["launcher"] == "slurm":
        from lora_repro.grid.slurm import run_slurm

        work = Path(own["runs"]) / grid.profile / ".slurm" / f"table{grid.spec.table}"
        return run_slurm(grid.cells, work, [o for o in extra or [] if o.startswith(LAUNCHER_KEYS)])
    jobs, gpus = resolve_jobs(own["launcher"], own["jobs"])
    if command is None:  # the real cells (tests pass fake commands)
        pretrain_first(grid, jobs)
        command = pick_spawn(own["spawn"], grid.profile, gpus)
    desc = f"table {grid.spec.table} ({grid.profile})"
    return run_cells(
        grid.cells, jobs=jobs, command=command, progress=bool(own["progress"]), desc=desc, gpus=gpus
    )


def provenance(grid: Grid, command_line: str):  # noqa: ANN201
    """The tables' Provenance of the grid's done cells: their compute, commit(s) and environment(s)."""
    from lora_repro.config import git_commit
    from lora_repro.environment import environment_of
    from lora_repro.tables.aggregate import read_results
    from lora_repro.tables.render import Provenance, cells_commit, cells_environments

    results, _ = read_results({c.run_dir for c in grid.cells}, {c.run_dir: c.id for c in grid.cells})
    done = [r for r in results.values() if r is not None]
    compute = sum(float(r.get("wall_time_s") or 0.0) for r in done)
    commit = cells_commit([r.get("git_commit") for r in done], fallback=git_commit())
    envs = cells_environments([environment_of(r) for r in done])
    return Provenance(
        command_line, grid.profile, commit, grid.seeds, compute, envs, played_by(done, grid.profile)
    )


def played_by(results: list[dict[str, Any]], profile: str) -> tuple[str, ...]:
    """Who played each count-only role (GPT-3 175B) in the done cells, as the table header names it."""
    from lora_repro.models.stand_in import played_by as who

    found = []
    for r in results:
        model = ((r.get("config") or {}).get("model")) or {}
        if model.get("count_only"):
            found.append(who(model, profile))
    return tuple(dict.fromkeys(found))


def render(grid: Grid, own: dict[str, Any], command_line: str) -> dict[str, Path]:
    """Aggregate the done cells and write results/<profile>/tableN.{md,csv,tex}."""
    from lora_repro.tables.aggregate import collect
    from lora_repro.tables.render import write_table

    results = collect(grid.spec, grid.seeds, grid.run_dirs(), {c.run_dir: c.id for c in grid.cells})
    out = Path(own["out"] or Path("results") / grid.profile)
    paths = write_table(grid.spec, results, provenance(grid, command_line), out)
    if own.get("plot", True):  # ours against the paper's per row: tableN.png beside the CSV
        from lora_repro.tables.plot import plot_csv

        paths["png"] = plot_csv(paths["csv"], command_line)
    return paths


def summary(grid: Grid, report: RunReport) -> list[str]:
    """The closing report: failed and skipped cells with their logs, then the counts."""
    lines = [f.line() for f in report.failed]
    lines += [f"SKIPPED {c.name} [{c.id}]: a cell it depends on failed" for c in report.blocked]
    n_done = len(report.already_done) + len(report.finished)
    lines.append(
        f"table {grid.spec.table}: {n_done}/{len(grid.cells)} cells done ({len(report.already_done)} before, "
        f"{len(report.finished)} now, {len(report.failed)} failed) in {report.wall_time_s:.1f} s"
    )
    if report.interrupted:
        lines.append("interrupted: rerun the same command to finish the missing cells")
    return lines


def _first_positional(argv: list[str]) -> str | None:
    positional = [a for a in argv if "=" not in a and not a.startswith("-")]
    return positional[0] if len(positional) == 1 else None


def hparams_table(argv: list[str]) -> int:
    """``lora-repro table 9`` (a ``kind: hparams`` spec): the audit, profile ``paper`` unless given."""
    from lora_repro.grid import hparams

    dry_run, positional, keyvals = split_argv(argv)
    own, overrides = split_args(keyvals, {"profile": "paper", "out": None})
    if dry_run or overrides:
        what = "--dry-run" if dry_run else repr(overrides[0])
        raise ValueError(
            f"{what}: table {positional[0]} is a hyperparameter table (nothing runs); allowed: profile=, out="
        )
    if own["profile"] not in PROFILES:
        raise ValueError(f"profile={own['profile']!r} not allowed; allowed: {list(PROFILES)}")
    command_line = "lora-repro table " + " ".join(shlex.quote(a) for a in argv)
    return hparams.main(positional[0], own, command_line)


def main(argv: list[str], command=None, resolver=None) -> int:  # noqa: ANN001
    """Entry point of ``lora-repro table``: 0 when every cell is done, 1 when some failed, 130 if interrupted."""
    from lora_repro.tables.hparams import is_hparams_spec

    if _first_positional(argv) == "all":  # lora_repro/grid/all.py, which imports this module: loaded by
        # name when called, as lora_repro.cli loads every command (no import circle)
        return importlib.import_module("lora_repro.grid.all").main(list(argv), command, resolver)
    if _first_positional(argv) is not None and is_hparams_spec(_first_positional(argv)):
        return hparams_table(list(argv))
    table, is_dry, own, overrides = parse_argv(list(argv))
    load_group_file("launcher", own["launcher"])  # the launcher's config must exist
    jobs = own["jobs"]
    if jobs not in (None, "auto") and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs={jobs!r}: expected a positive integer or auto")  # before any cell is composed
    grid = build_grid(table, own, overrides, resolver)
    if is_dry:
        return dry_run(grid, own)
    logged = dashboard.wants_wandb(overrides)
    if logged:  # each cell's wandb run carries the table, its rows and columns (one group per row)
        grid = dashboard.tag_cells(grid)
    report = launch(grid, own, command, overrides)
    command_line = "lora-repro table " + " ".join(shlex.quote(a) for a in argv)
    paths = render(grid, own, command_line)
    if logged:
        where = dashboard.log_table(grid, overrides, command_line, Path(own["runs"]))
        print(
            f"wandb: table {grid.spec.table} logged offline to {where} (wandb sync {where})", file=sys.stderr
        )
    for line in summary(grid, report):
        print(line, file=sys.stderr)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if report.interrupted:
        return 130
    return 0 if report.ok else 1
