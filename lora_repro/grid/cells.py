"""A table spec expanded into grid cells: row x column-task x seed, each one ``lora-repro train`` run.

Columns that read different metrics of the same task (E2E BLEU, NIST, ...) share one cell. A cell's
run directory is ``runs/<profile>/<config hash>``: the hash of its resolved config, so the same cell
asked for by two tables runs once. Non-† LoRA rows' MRPC, RTE and STS-B cells start from the MNLI
cell of the same model, method and seed (paper App. D.1): the grid is a small DAG, not a product.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_repro import rundir
from lora_repro.atomic import write_atomic
from lora_repro.tables.spec import Row, TableSpec

# The paper's MNLI warm start: these tasks of non-† rows of these methods depend on the MNLI cell.
MNLI_TASK = "mnli"
FROM_MNLI_TASKS = ("mrpc", "rte", "stsb")
FROM_MNLI_METHODS = ("lora",)
INIT_FROM_MNLI = "init_from=mnli"  # the trainer's key: start from the best MNLI checkpoint of this cell

# overrides -> (config hash, resolved config as a plain dict)
Resolver = Callable[[list[str]], "tuple[str, dict[str, Any]]"]


@dataclass(frozen=True)
class Cell:
    """One run of ``lora-repro train``: its overrides, its run directory and the cells it waits for."""

    id: str
    overrides: tuple[str, ...]
    run_dir: Path
    model: str
    task: str
    method: str
    seed: int
    deps: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    method_spec: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # name + options

    @property
    def log_path(self) -> Path:
        """``runs/<profile>/<hash>.log``: the cell's stdout and stderr, one header per attempt."""
        return self.run_dir.with_name(self.run_dir.name + ".log")

    @property
    def done(self) -> bool:
        """True when the cell finished and its files check out (``rundir.check_done`` with its hash)."""
        return self.check().ok

    def check(self) -> rundir.DoneCheck:
        """What the run directory holds: finished, missing, damaged or another cell's (the same check
        train makes before skipping a cell, and the tables before reading its result)."""
        return rundir.check_done(self.run_dir, self.id)

    @property
    def name(self) -> str:
        """``model/task/method/seedN``, for messages."""
        return f"{self.model}/{self.task}/{self.method}/seed{self.seed}"


@dataclass
class Grid:
    """The cells of one table in dependency order, and which cell feeds each (row, task, seed) slot."""

    spec: TableSpec
    profile: str
    seeds: tuple[int, ...]
    cells: list[Cell]
    slots: dict[tuple[int, str, int], str]  # (row index, task, seed) -> cell id

    def cell(self, cell_id: str) -> Cell:
        """The cell with this id (config hash)."""
        return self._by_id[cell_id]

    def __post_init__(self) -> None:
        self._by_id = {c.id: c for c in self.cells}

    def run_dirs(self) -> dict[tuple[int, str, int], Path]:
        """(row index, task, seed) -> the run directory that fills it (what tables aggregate from)."""
        return {slot: self._by_id[cell_id].run_dir for slot, cell_id in self.slots.items()}


def hydra_value(value: Any) -> str:
    """A Python value written as a Hydra override value (lists as ``[a,b]``, booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if any(ch in text for ch in " ,=[]{}()'\""):
        return "'" + text.replace("'", "\\'") + "'"
    return text


def method_overrides(method: dict[str, Any]) -> list[str]:
    """``method=<name>`` followed by ``method.<option>=<value>`` for every option of a spec row."""
    out = [f"method={method['name']}"]
    out += [f"method.{k}={hydra_value(v)}" for k, v in method.items() if k != "name"]
    return out


def depends_on_mnli(row: Row, task: str) -> bool:
    """True when this row's ``task`` cell starts from the MNLI checkpoint (non-† LoRA, MRPC/RTE/STS-B)."""
    return task in FROM_MNLI_TASKS and row.method_name in FROM_MNLI_METHODS and not row.dagger


def quoted_list(items: Iterable[str]) -> str:
    """A Hydra list of quoted strings: ``['method.r=8','method.targets=[q,v]']``."""
    return "[" + ",".join("'" + i.replace("\\", "\\\\").replace("'", "\\'") + "'" for i in items) + "]"


def cell_overrides(
    spec: TableSpec, row: Row, task: str, seed: int, profile: str, runs_root: Path
) -> list[str]:
    """The Hydra overrides of ``lora-repro train`` for one cell.

    ``runs_root=<runs>/<profile>`` puts the run in ``runs/<profile>/<hash>`` (the trainer leaves
    ``runs_root`` out of the hash). A cell that starts from MNLI gets ``init_from=mnli`` and, in
    ``init_overrides``, the overrides that make the trainer's MNLI lookup find this row's MNLI cell
    (the method options and the spec's and row's overrides).
    """
    method = method_overrides(row.method)
    out = [f"profile={profile}", f"model={row.model}", f"task={task}", *method, f"seed={seed}"]
    out += [*spec.overrides, *row.overrides, f"runs_root={runs_root / profile}"]
    extra = [*method[1:], *spec.overrides, *row.overrides]
    if depends_on_mnli(row, task):
        out.append(INIT_FROM_MNLI)
        if extra:
            out.append(f"init_overrides={quoted_list(extra)}")
    return out


def overrides_hash(overrides: Iterable[str]) -> str:
    """A stable 12-hex hash of a set of overrides (the resolver for tests and for specs without a trainer)."""
    text = json.dumps(sorted(overrides))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def trainer_resolver(overrides: list[str]) -> tuple[str, dict[str, Any]]:
    """Resolve a cell with the trainer's own ``cell_config``/``cell_hash`` (the hash names its run dir)."""
    from omegaconf import OmegaConf

    from lora_repro.train.cell import cell_config, cell_hash, cell_run_dir

    cfg = cell_config(list(overrides))
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    config["run_dir"] = str(cell_run_dir(cfg))
    return cell_hash(cfg), config


def configs_fingerprint(root: Path | None = None) -> str:
    """A hash of everything a cell's resolved config depends on besides its overrides.

    The config files, the code that composes and hashes them (with what the tiny identity depends on:
    pretraining, tokenizer and generators), and the environment variables they interpolate.
    """
    from lora_repro.config import REPO_ROOT, config_dir

    root = root or REPO_ROOT
    h = hashlib.sha256()
    skip = (config_dir() / "table", config_dir() / "launcher")  # read by the grid, not by cells
    files = [p for p in sorted(config_dir().rglob("*.yaml")) if p.parent not in skip]
    files += [root / "lora_repro" / "config.py"]
    files += sorted((root / "lora_repro" / "train").glob("cell*.py"))
    # a tiny cell's hash also names its pretrained tiny model and the data generators (cell.py
    # _tiny_identity): the code behind those must invalidate the cache too
    pkg = root / "lora_repro"
    files += [pkg / "tiny" / "pretrain.py", pkg / "tiny" / "tokenizer.py", pkg / "tasks" / "sources.py"]
    files += sorted((pkg / "tiny" / "synthetic").glob("*.py"))
    for path in files:
        if path.is_file():
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for var in ("LORA_REPRO_CACHE", "HOME"):
        h.update(f"{var}={os.environ.get(var, '')}".encode())
    return h.hexdigest()[:16]


class CachedResolver:
    """Memoises a resolver on disk, so that rerunning a 500-cell table does not compose 500 configs.

    Entries are valid for one :func:`configs_fingerprint`; any config or composing-code change
    invalidates them all. Only the hash and the keys the grid reads (run_dir, epochs) are kept.
    """

    def __init__(self, resolver: Resolver, path: Path, fingerprint: str) -> None:
        self.resolver, self.path, self.fingerprint = resolver, path, fingerprint
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text())
            if data.get("fingerprint") == fingerprint:
                self.entries = data["entries"]
        except (OSError, ValueError, KeyError):
            pass

    def __call__(self, overrides: list[str]) -> tuple[str, dict[str, Any]]:
        key = "\x1f".join(overrides)
        if key not in self.entries:
            from lora_repro.grid.estimate import estimate_inputs

            digest, config = self.resolver(overrides)
            small = {
                "run_dir": config.get("run_dir"),
                **estimate_inputs(config),
            }  # what --dry-run estimates from
            self.entries[key] = [digest, small]
            self.dirty = True
        digest, small = self.entries[key]
        return digest, dict(small)

    def save(self) -> None:
        """Write the cache atomically (only when something new was resolved)."""
        if not self.dirty:
            return
        write_atomic(self.path, json.dumps({"fingerprint": self.fingerprint, "entries": self.entries}))
        self.dirty = False


def expand(
    spec: TableSpec,
    profile: str = "tiny",
    seeds: Iterable[int] | None = None,
    resolver: Resolver | None = None,
    runs_root: Path = Path("runs"),
) -> Grid:
    """Every cell the table needs (including MNLI cells that others depend on), dependencies first."""
    resolver = resolver or trainer_resolver
    seeds = tuple(seeds) if seeds is not None else spec.seeds
    tasks = list(dict.fromkeys(c.task for c in spec.columns if c.task is not None))
    cells: dict[str, Cell] = {}
    slots: dict[tuple[int, str, int], str] = {}

    def make(row: Row, task: str, seed: int) -> Cell:
        overrides = cell_overrides(spec, row, task, seed, profile, runs_root)
        digest, config = resolver(overrides)
        deps: tuple[str, ...] = ()
        if depends_on_mnli(row, task):
            deps = (make(row, MNLI_TASK, seed).id,)
        if digest not in cells:
            run_dir = Path(config.get("run_dir") or runs_root / profile / digest)
            cells[digest] = Cell(
                id=digest,
                overrides=tuple(overrides),
                run_dir=run_dir,
                model=row.model,
                task=task,
                method=row.method_name,
                seed=seed,
                deps=deps,
                config=config,
                method_spec=dict(row.method),
            )
        return cells[digest]

    for i, row in enumerate(spec.rows):
        for task in tasks:
            for seed in seeds:
                slots[(i, task, seed)] = make(row, task, seed).id
    ordered = sorted(cells.values(), key=lambda c: len(c.deps))  # stable: MNLI (no deps) before MRPC
    return Grid(spec=spec, profile=profile, seeds=seeds, cells=ordered, slots=slots)
