"""Hyperparameter tables (the paper's Tables 9-12, 17) as an audit: ours beside the paper's printed values.

A spec ``configs/table/tableN.yaml`` with ``kind: hparams`` names blocks (one per line group of the
paper's table: "RoB-large Adpt^H (0.8M)†"), the rows of the experiment tables each block describes
(or, for a table with no spec yet, the cells directly), and per item (a config key such as
``train.lr``) the paper's value per task. The grid resolves every cell those rows ask for
(:mod:`lora_repro.grid.hparams`); :func:`judge` compares each resolved value with the paper's and
names where ours comes from: ``paper`` (equal), ``reference`` (the reference scripts), ``ours`` (our
choice), ``tiny`` (the tiny profile's ``scale`` block), or ``undocumented`` (a difference no note
explains: a bug to fix or a note to write).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lora_repro.tables.spec import spec_path

KIND = "hparams"
# what a note may name ("paper": another table of the paper); "undocumented" is the audit's own
SOURCES = ("paper", "reference", "ours", "tiny")
UNDOCUMENTED = "undocumented"


@dataclass(frozen=True)
class Item:
    """One hyperparameter: a dotted config key, its label, the paper's value per task (None: not printed)."""

    key: str
    label: str
    paper: dict[str, Any]  # task -> value; "*" for every task
    times: str | None = (
        None  # the effective value is the key's value x this key's (train.lr x train.lr_scale)
    )

    def paper_value(self, task: str) -> Any:
        """The paper's value for ``task`` (None when the paper prints none)."""
        return self.paper.get(task, self.paper.get("*"))


@dataclass(frozen=True)
class Note:
    """Why our value of ``item`` differs from the paper's (or what it is when the paper prints none)."""

    item: str
    source: str
    why: str
    tasks: tuple[str, ...] = ()  # empty: every task


@dataclass(frozen=True)
class Block:
    """A line group of the paper's table and the experiment-table cells it describes."""

    label: str
    rows: tuple[dict[str, Any], ...]  # selectors over experiment tables: {table: 2, model: ..., method: ...}
    cells: tuple[dict[str, Any], ...]  # cells given directly: {model, method, tasks (default all), overrides}
    items: tuple[Item, ...]
    notes: tuple[Note, ...] = ()

    def note(self, key: str, task: str) -> Note | None:
        """The note that explains ``key`` on ``task``, if any."""
        for n in self.notes:
            if n.item == key and (not n.tasks or task in n.tasks):
                return n
        return None


@dataclass(frozen=True)
class HparamsSpec:
    """A whole hyperparameter table: its task columns and blocks."""

    table: int | str
    title: str
    tasks: tuple[tuple[str, str], ...]  # (task, label)
    blocks: tuple[Block, ...]
    common: str = ""  # what the paper states for every cell and the config does not hold (optimizer, ...)
    path: Path | None = None


@dataclass(frozen=True)
class AuditCell:
    """One resolved cell of an experiment table: which block and task it fills, where it comes from."""

    block: int
    task: str
    where: str  # "Table 2 'RoB-large (Adpt^H)'†"
    config: dict[str, Any]


@dataclass
class Check:
    """One (block, item, task): our value(s), the paper's, and where ours comes from."""

    block: Block
    item: Item
    task: str
    ours: list[Any] = field(default_factory=list)  # one per distinct value over the block's cells
    paper: Any = None
    status: str = "missing"  # same | differs | unprinted | missing (no cell)
    source: str = ""
    why: str = ""


def is_hparams_spec(table: int | str) -> bool:
    """True when ``configs/table/table<N>.yaml`` (or the given file) is a hyperparameter table."""
    raw = yaml.safe_load(spec_path(table).read_text())
    return isinstance(raw, dict) and raw.get("kind") == KIND


def _items(raw: list[Any], where: str) -> tuple[Item, ...]:
    out = []
    for i, it in enumerate(raw or []):
        if not isinstance(it, dict) or "key" not in it:
            raise ValueError(f"{where} items[{i}]: an item needs a 'key' (a dotted config key), got {it!r}")
        paper = it.get("paper")
        paper = dict(paper) if isinstance(paper, dict) else ({} if paper is None else {"*": paper})
        out.append(Item(str(it["key"]), str(it.get("label", it["key"])), paper, it.get("times")))
    return tuple(out)


def _notes(raw: list[Any], where: str) -> tuple[Note, ...]:
    out = []
    for i, n in enumerate(raw or []):
        if not isinstance(n, dict) or not {"item", "source", "why"} <= set(n):
            raise ValueError(f"{where} notes[{i}]: a note needs 'item', 'source' and 'why', got {n!r}")
        if n["source"] not in SOURCES:
            raise ValueError(f"{where} notes[{i}]: source={n['source']!r}; allowed: {list(SOURCES)}")
        out.append(Note(str(n["item"]), str(n["source"]), str(n["why"]), tuple(n.get("tasks") or ())))
    return tuple(out)


def parse_hparams_spec(raw: dict[str, Any], path: Path | None = None) -> HparamsSpec:
    """Validate a ``kind: hparams`` mapping and build an :class:`HparamsSpec`."""
    where = str(path) if path else "hparams table spec"
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise ValueError(f"{where}: not a hyperparameter table (kind: {KIND})")
    tasks = tuple((str(t["task"]), str(t.get("label", t["task"]))) for t in raw.get("tasks") or [])
    if not tasks:
        raise ValueError(f"{where}: missing key 'tasks' (the task columns)")
    common = _items(raw.get("common_items") or [], where)
    blocks = []
    for i, b in enumerate(raw.get("blocks") or []):
        bw = f"{where} blocks[{i}] ({b.get('label')!r})"
        own = _items(b.get("items") or [], bw)
        keys = {it.key for it in own}
        rows, cells = tuple(b.get("rows") or ()), tuple(b.get("cells") or ())
        if not rows and not cells:
            raise ValueError(f"{bw}: a block needs 'rows' (selectors over experiment tables) or 'cells'")
        if any("table" not in r for r in rows):
            raise ValueError(f"{bw}: every row selector needs 'table' (the experiment table it selects from)")
        items = own + tuple(it for it in common if it.key not in keys)
        notes = _notes(b.get("notes") or [], bw)
        unknown = sorted({n.item for n in notes} - {it.key for it in items})
        if unknown:
            raise ValueError(f"{bw}: notes name items {unknown} the block lacks; allowed: {sorted(keys)}")
        blocks.append(Block(str(b.get("label", f"block {i}")), rows, cells, items, notes))
    if not blocks:
        raise ValueError(f"{where}: missing key 'blocks'")
    return HparamsSpec(
        table=raw.get("table", "?"),
        title=str(raw.get("title", "")),
        tasks=tasks,
        blocks=tuple(blocks),
        common=str(raw.get("common", "")),
        path=path,
    )


def load_hparams_spec(table: int | str) -> HparamsSpec:
    """Read and validate the hyperparameter table ``table`` (a number or a path)."""
    path = spec_path(table)
    return parse_hparams_spec(yaml.safe_load(path.read_text()), path)


def lookup(config: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of a dotted key in a resolved config."""
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def value_of(item: Item, config: dict[str, Any]) -> Any:
    """The cell's value of ``item`` (times its ``times`` key when that is not 1)."""
    _, value = lookup(config, item.key)
    if item.times:
        _, factor = lookup(config, item.times)
        if isinstance(value, (int, float)) and isinstance(factor, (int, float)) and factor != 1:
            return value * factor
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as hyperparameters: numbers to 1e-9 relative, lists as sets, strings case-insensitively."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-15)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def set_by_profile(item: Item, config: dict[str, Any]) -> list[str]:
    """The keys of this item that the tiny profile's ``scale`` (or ``scale_by_method``) block sets."""
    profile = config.get("profile") or {}
    if profile.get("name") != "tiny":
        return []
    blocks = [profile.get("scale") or {}]
    blocks.append((profile.get("scale_by_method") or {}).get((config.get("method") or {}).get("name"), {}))
    keys = [item.key] + ([item.times] if item.times else [])
    return [k for k in keys if any(lookup(b, k)[0] for b in blocks)]


def _distinct(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not any(same(v, o) for o in out):
            out.append(v)
    return out


def judge(spec: HparamsSpec, cells: list[AuditCell]) -> list[Check]:
    """Every (block, item, task) of ``spec`` checked against the resolved ``cells``."""
    checks: list[Check] = []
    for bi, block in enumerate(spec.blocks):
        for item in block.items:
            for task, _ in spec.tasks:
                mine = [c for c in cells if c.block == bi and c.task == task]
                check = Check(block=block, item=item, task=task, paper=item.paper_value(task))
                checks.append(check)
                if not mine:
                    continue
                check.ours = _distinct([value_of(item, c.config) for c in mine])
                note = block.note(item.key, task)
                if check.paper is not None and all(same(v, check.paper) for v in check.ours):
                    check.status, check.source = "same", "paper"
                    continue
                check.status = "unprinted" if check.paper is None else "differs"
                scaled = sorted({k for c in mine for k in set_by_profile(item, c.config)})
                if scaled:
                    check.source, check.why = "tiny", f"its scale block sets {', '.join(scaled)}"
                elif note is not None:
                    check.source, check.why = note.source, note.why
                else:
                    check.source = UNDOCUMENTED
    return checks


def format_hparam(value: Any) -> str:
    """A hyperparameter as the paper prints it: ``3.0e-04``, ``16``, ``q,v``, ``—`` for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != 0 and abs(value) < 0.01:
            return f"{value:.1e}"
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
