"""Figure specs: ``configs/figure/<name>.yaml`` read into a dataclass, with one clear error per bad key.

A spec names the analysis (``kind``), the grid cells it reads (model, task, and per cell key a LoRA
method and its seeds: ordinary ``lora-repro train`` cells, shared with any table asking for the same
config), which pairs of adapters to compare, the layers and targets, the heatmap ranges, and the
paper's numbers where the paper prints any (Table 7). See docs/analysis.md for the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lora_repro.config import config_dir

KINDS = ("subspace", "directions", "table7", "accuracy", "bench")
SIDES = ("left", "right")


@dataclass(frozen=True)
class CellSpec:
    """One kind of cell a figure reads: a LoRA method (name and options) trained for these seeds."""

    key: str
    method: dict[str, Any]
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class FigureSpec:
    """A figure (or Table 7): what it computes, from which cells, drawn how."""

    name: str
    kind: str
    title: str
    model: str = ""
    task: str = ""
    width: int | None = None  # the tiny stand-in's n_embd for these cells (None: the model's tiny width)
    overrides: tuple[str, ...] = ()
    cells: tuple[CellSpec, ...] = ()
    pairs: tuple[tuple[tuple[str, int], tuple[str, int]], ...] = ()  # ((key, seed), (key, seed))
    targets: tuple[str, ...] = ("q", "v")
    layers: tuple[str | int, ...] = ("middle",)
    i_max: int = 8
    j_max: int = 64
    zoom: int | None = None  # also draw i, j <= zoom (Figure 3's right half)
    side: str = "left"  # directions: which singular vectors of W_q and ΔW_q (left: output space)
    table: str | None = None  # accuracy: the table spec whose cells it reads
    caption: str = ""
    paper: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def cell(self, key: str) -> CellSpec:
        """The cell spec with this key."""
        for c in self.cells:
            if c.key == key:
                return c
        raise ValueError(f"figure {self.name}: no cell {key!r}; allowed: {[c.key for c in self.cells]}")


def figure_options() -> list[str]:
    """The figure names that have a spec in ``configs/figure/``."""
    return sorted(p.stem.removeprefix("figure") for p in (config_dir() / "figure").glob("*.yaml"))


def spec_path(name: str) -> Path:
    """``configs/figure/figure<N>.yaml`` (or ``<name>.yaml``, e.g. table7), or a path to a YAML file."""
    text = str(name)
    if text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"figure spec {path} not found")
        return path
    for candidate in (f"figure{text}.yaml", f"{text}.yaml"):
        path = config_dir() / "figure" / candidate
        if path.is_file():
            return path
    raise ValueError(f"unknown figure {text!r}; allowed: {figure_options()}")


def _int(value: Any, where: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}={value!r}: expected an integer >= {low}")
    return value


def _cells(raw: Any, where: str) -> tuple[CellSpec, ...]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'cells' must map a key to {{method: ..., seeds: [...]}}, got {raw!r}")
    out = []
    for key, c in raw.items():
        method = (c or {}).get("method")
        if not isinstance(method, dict) or "name" not in method:
            raise ValueError(f"{where} cells.{key}: 'method' must be a mapping with 'name', got {method!r}")
        seeds = tuple(_int(s, f"{where} cells.{key}.seeds") for s in (c.get("seeds") or [1]))
        out.append(CellSpec(str(key), dict(method), seeds))
    return tuple(out)


def _pairs(raw: Any, cells: tuple[CellSpec, ...], where: str) -> tuple:
    keys = {c.key: c.seeds for c in cells}
    pairs = []
    for n, p in enumerate(raw or []):
        sides = []
        for side in ("a", "b"):
            ref = (p or {}).get(side)
            if not (isinstance(ref, list) and len(ref) == 2):
                raise ValueError(f"{where} pairs[{n}].{side}: expected [cell key, seed], got {ref!r}")
            key, seed = str(ref[0]), ref[1]
            if key not in keys or seed not in keys[key]:
                raise ValueError(
                    f"{where} pairs[{n}].{side}={ref!r}: no such cell and seed; allowed: "
                    f"{[[k, s] for k, ss in keys.items() for s in ss]}"
                )
            sides.append((key, int(seed)))
        pairs.append(tuple(sides))
    return tuple(pairs)


def parse_spec(raw: dict[str, Any], path: Path | None = None) -> FigureSpec:
    """Validate a figure spec mapping (as read from YAML) and build a :class:`FigureSpec`."""
    where = str(path) if path else "figure spec"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a figure spec must be a mapping, got {type(raw).__name__}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind={kind!r} not allowed; allowed: {list(KINDS)}")
    side = raw.get("side", "left")
    if side not in SIDES:
        raise ValueError(f"{where}: side={side!r} not allowed; allowed: {list(SIDES)}")
    width = raw.get("width")
    cells = _cells(raw.get("cells") or {}, where)
    zoom = raw.get("zoom")
    return FigureSpec(
        name=str(raw.get("figure", path.stem.removeprefix("figure") if path else "?")),
        kind=kind,
        title=str(raw.get("title", "")),
        model=str(raw.get("model", "")),
        task=str(raw.get("task", "")),
        width=None if width is None else _int(width, f"{where} width"),
        overrides=tuple(str(o) for o in raw.get("overrides") or ()),
        cells=cells,
        pairs=_pairs(raw.get("pairs"), cells, where),
        targets=tuple(str(t) for t in raw.get("targets") or ("q", "v")),
        layers=tuple(raw.get("layers") or ("middle",)),
        i_max=_int(raw.get("i_max", 8), f"{where} i_max"),
        j_max=_int(raw.get("j_max", 64), f"{where} j_max"),
        zoom=None if zoom is None else _int(zoom, f"{where} zoom"),
        side=side,
        table=None if raw.get("table") is None else str(raw["table"]),
        caption=" ".join(str(raw.get("caption", "")).split()),
        paper=dict(raw.get("paper") or {}),
        path=path,
    )


def load_spec(name: str) -> FigureSpec:
    """Read and validate the spec of figure ``name`` (``3``, ``table7``, or a path to a YAML file)."""
    path = spec_path(name)
    return parse_spec(yaml.safe_load(path.read_text()), path)
