"""The numbers of Figures 3, 4, 6, 7, 8 and Table 7, from the adapters of a figure's finished cells.

Each function returns panels (one heatmap each, with the labels the drawing needs) and long-format
CSV rows; nothing here draws or writes files. The random baseline is computed beside every trained
comparison, with the same shapes, so that the figure shows what chance alone gives at this width.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lora_repro.analysis import (
    LowRankUpdate,
    base_weight,
    expected_random_phi,
    layer_index,
    left_singular,
    model_depth,
    phi_grid,
    random_baseline,
    random_gaussian,
    read_updates,
    right_singular,
    subspace_similarity,
    table7_column,
    update_at,
)
from lora_repro.figures.cells import FigureCells, base_model
from lora_repro.figures.spec import FigureSpec

GPT3_WIDTH = 12288  # d_model of GPT-3 175B: where the paper's random baseline sits


@dataclass
class Panel:
    """One heatmap: φ[i-1, j-1] for i on the rows and j on the columns."""

    title: str
    values: torch.Tensor
    group: str  # the figure row it belongs to (a layer)
    random: bool = False


@dataclass
class FigureData:
    """What a figure shows: panels, CSV rows, the width d and a caption's facts."""

    panels: list[Panel] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    width: int = 0
    notes: list[str] = field(default_factory=list)


class Adapters:
    """The LoRA updates of a figure's cells, loaded once per (cell key, seed) onto their base model."""

    def __init__(self, spec: FigureSpec, cells: FigureCells) -> None:
        self.spec, self.cells = spec, cells
        self._bases: dict[str, nn.Module] = {}
        self._loaded: dict[tuple[str, int], tuple[nn.Module, list[LowRankUpdate]]] = {}

    def get(self, key: str, seed: int) -> tuple[nn.Module, list[LowRankUpdate]]:
        """(model with the adapter loaded, its updates), checked against the cell's rank and targets."""
        if (key, seed) not in self._loaded:
            run_dir = self.cells.run_dir(key, seed)
            method = self.spec.cell(key).method
            targets = method.get("targets")
            targets = targets.split(",") if isinstance(targets, str) else targets
            lacking = [t for t in self.spec.targets if targets is not None and t not in targets]
            if lacking:
                raise ValueError(
                    f"figure {self.spec.name}: cell {key!r} adapts {list(targets)}, the figure needs {lacking}"
                )
            base = base_model(run_dir, self._bases)
            self._loaded[(key, seed)] = read_updates(base, run_dir / "adapter", method.get("r"), targets)
        return self._loaded[(key, seed)]

    def update(self, key: str, seed: int, block: int, target: str) -> LowRankUpdate:
        """One update of one cell's adapter."""
        return update_at(self.get(key, seed)[1], block, target, f"cell {key} seed {seed}")

    def blocks(self, key: str, seed: int) -> list[tuple[int, str]]:
        """The 0-based blocks of the spec's layers, with their names, in this cell's model."""
        depth = model_depth(self.get(key, seed)[0])
        return [(layer_index(pos, depth), str(pos)) for pos in self.spec.layers]


def _label(key: str, seed: int, spec: FigureSpec) -> str:
    method = spec.cell(key).method
    return f"r={method.get('r')}, seed {seed}"


def _grid_rows(values: torch.Tensor, base: dict[str, Any], d: int) -> list[dict[str, Any]]:
    out = []
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            out.append({**base, "i": i + 1, "j": j + 1, "phi": round(float(values[i, j]), 6),
                        "expected_random": round(expected_random_phi(i + 1, j + 1, d), 6)})  # fmt: skip
    return out


def subspace_figure(spec: FigureSpec, adapters: Adapters) -> FigureData:
    """Figures 3, 4, 6, 7: φ between the A matrices of each pair, per layer and target, and random."""
    data = FigureData()
    first = spec.pairs[0][0]
    for block, pos in adapters.blocks(*first):
        group = f"layer {block + 1} ({pos})"
        for target in spec.targets:
            for (ka, sa), (kb, sb) in spec.pairs:
                a, b = adapters.update(ka, sa, block, target), adapters.update(kb, sb, block, target)
                grid = subspace_similarity(a.A, b.A, spec.i_max, spec.j_max)
                data.width = int(a.A.shape[1])
                pair = f"{_label(ka, sa, spec)} vs {_label(kb, sb, spec)}"
                data.panels.append(Panel(f"ΔW_{target}: {pair}", grid, group))
                data.rows += _grid_rows(
                    grid, {"layer": block + 1, "target": target, "pair": pair}, data.width
                )
        ra = adapters.update(*first, block, spec.targets[0]).rank
        rb = adapters.update(*spec.pairs[0][1], block, spec.targets[0]).rank
        rand = random_baseline(ra, rb, data.width, spec.i_max, spec.j_max, seed=block)
        data.panels.append(Panel(f"random Gaussian [{ra}, d] vs [{rb}, d]", rand, group, random=True))
        data.rows += _grid_rows(rand, {"layer": block + 1, "target": "-", "pair": "random"}, data.width)
    data.notes = honesty_notes(data, spec.i_max, spec.j_max)
    if spec.zoom:
        data.panels = zoomed(data.panels, spec.zoom)
    return data


def zoomed(panels: list[Panel], k: int) -> list[Panel]:
    """Each layer's panels followed by the same panels cut to i, j <= k (Figure 3's right half)."""
    out: list[Panel] = []
    for group in dict.fromkeys(p.group for p in panels):
        row = [p for p in panels if p.group == group]
        out += row
        out += [Panel(f"{p.title} (i, j ≤ {k})", p.values[:k, :k], f"{group}, zoom", p.random) for p in row]
    return out


def honesty_notes(data: FigureData, i: int, j: int) -> list[str]:
    """What this width can show: the random baseline's E[φ] here and at GPT-3's width, and the measured
    φ(1,1) of trained and random panels."""
    d = data.width
    trained = [float(p.values[0, 0]) for p in data.panels if not p.random]
    rand = [float(p.values[0, 0]) for p in data.panels if p.random]
    notes = [
        f"d = {d}: random subspaces of i = {i} and j = {j} directions give E[φ] = max(i, j)/d = "
        f"{expected_random_phi(i, j, d):.2f} (at GPT-3's d = {GPT3_WIDTH}: {max(i, j) / GPT3_WIDTH:.3f})."
    ]
    if trained and rand:
        notes.append(
            f"φ(1,1): trained {min(trained):.2f}-{max(trained):.2f}, random {min(rand):.2f}-{max(rand):.2f}; "
            f"E[φ(1,1)] for random = 1/d = {1 / d:.3f}."
        )
    return notes


def directions_figure(spec: FigureSpec, adapters: Adapters) -> FigureData:
    """Figure 8: φ between the top-i singular directions of ΔW_q and the top-j of W_q, and random."""
    data = FigureData()
    for cell in spec.cells:
        seed = cell.seeds[0]
        for block, pos in adapters.blocks(cell.key, seed):
            group = f"layer {block + 1} ({pos})"
            for target in spec.targets:
                up = adapters.update(cell.key, seed, block, target)
                model = adapters.get(cell.key, seed)[0]
                W, delta = base_weight(model, up), up.delta()
                pick = left_singular if spec.side == "left" else right_singular
                U_w = pick(W)
                d = U_w.shape[0]
                j_max = min(spec.j_max, U_w.shape[1])
                i_max = min(up.rank, spec.i_max)
                data.width = d
                grid = phi_grid(pick(delta)[:, :i_max], U_w, i_max, j_max)
                label = f"ΔW_{target} (r={up.rank}) vs W_{target}"
                data.panels.append(Panel(label, grid, group))
                base = {"layer": block + 1, "target": target, "pair": label}
                data.rows += _grid_rows(grid, base, d)
                rand_m = random_gaussian(*W.shape, seed=block)
                rgrid = phi_grid(pick(rand_m)[:, :i_max], U_w, i_max, j_max)
                rlabel = f"random (rank {i_max}) vs W_{target}"
                data.panels.append(Panel(rlabel, rgrid, group, random=True))
                data.rows += _grid_rows(rgrid, {**base, "pair": rlabel}, d)
    d = data.width
    data.notes = [
        f"d = {d}: a random matrix's top-i directions against W_q's top-j give E[φ] = max(i, j)/d "
        f"(φ(1, 1) = {1 / d:.3f}; every φ reaches 1 at j = d), at GPT-3's d = {GPT3_WIDTH}: 1/d = {1 / GPT3_WIDTH:.5f}.",
        *honesty_notes(data, 1, 1)[1:],
    ]
    return data


def table7_numbers(spec: FigureSpec, adapters: Adapters) -> list[dict[str, Any]]:
    """Table 7: one column per cell (its rank r) at each of the spec's layers, for W_q (spec.targets[0])."""
    target = spec.targets[0]
    out = []
    for cell in spec.cells:
        seed = cell.seeds[0]
        for block, pos in adapters.blocks(cell.key, seed):
            up = adapters.update(cell.key, seed, block, target)
            W = base_weight(adapters.get(cell.key, seed)[0], up)
            col = table7_column(W, up.delta(), r=up.rank, seed=block)
            out.append({"cell": cell.key, "seed": seed, "layer": block + 1, "position": pos,
                        "target": target, "d": int(W.shape[1]), **col.as_dict()})  # fmt: skip
    return out
