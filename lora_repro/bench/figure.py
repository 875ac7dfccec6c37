"""Figure 5: % slow-down of adapters over the no-adapter model, as the paper draws it.

The paper's Figure 5 is a grid of heat maps: Adapter^H on the top row, Adapter^L on the bottom row, one
column per sequence length (128, 256, 512), batch size along each map's x-axis. Here each map's rows
are the measured |Θ| budgets, every cell is annotated with its %, and unmeasured cells stay blank.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lora_repro.bench.report import Provenance, write_csv

ROWS = ("Adapter^H", "Adapter^L")


def figure5_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The adapter and unmerged-LoRA rows of the latency measurement (what the figure shows, and more)."""
    keep = ("Adapter^H", "Adapter^L", "LoRA unmerged", "LoRA merged")
    return [r for r in rows if r["method"] in keep]


def grid_of(rows: list[dict[str, Any]], method: str, seq: int, bss: list[int], budgets: list[str]):
    """[budget][batch size] -> % over FT (nan where not measured)."""
    cell = {(r["budget"], r["batch_size"]): r["pct_over_ft"] for r in rows if r["method"] == method
            and r["seq_len"] == seq}  # fmt: skip
    return [[cell.get((b, bs), math.nan) for bs in bss] for b in budgets]


def figure5(rows: list[dict[str, Any]], out: Path, opts: dict[str, Any], prov: Provenance) -> dict[str, Path]:
    """Write figure5.csv, figure5.png and figure5.pdf."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = figure5_rows(rows)
    files = {"figure5.csv": write_csv(out / "figure5.csv", data, comment=prov.command)}
    seqs = sorted({r["seq_len"] for r in data})
    bss = sorted({r["batch_size"] for r in data})
    budgets = [b for b in opts["budgets"] if any(r["budget"] == b for r in data)]
    values = [v for m in ROWS for s in seqs for line in grid_of(data, m, s, bss, budgets) for v in line]
    finite = [v for v in values if not math.isnan(v)] or [0.0]
    vmax = max(1.0, max(abs(v) for v in finite))
    fig, axes = plt.subplots(len(ROWS), len(seqs), figsize=(3.2 * len(seqs), 1.2 + 1.1 * len(budgets) * 2),
                             squeeze=False, constrained_layout=True)  # fmt: skip
    image = None
    for i, method in enumerate(ROWS):
        for j, seq in enumerate(seqs):
            ax = axes[i][j]
            grid = grid_of(data, method, seq, bss, budgets)
            image = ax.imshow(grid, cmap="RdYlGn_r", vmin=-vmax, vmax=vmax, aspect="auto")
            for y, line in enumerate(grid):
                for x, v in enumerate(line):
                    if not math.isnan(v):
                        ax.text(x, y, f"{v:.0f}", ha="center", va="center", fontsize=8)
            ax.set_xticks(range(len(bss)), [str(b) for b in bss])
            ax.set_yticks(range(len(budgets)), [f"|Θ| {b}" for b in budgets])
            ax.set_title(f"{method}, seq {seq}", fontsize=9)
            if i == len(ROWS) - 1:
                ax.set_xlabel("batch size")
    fig.colorbar(image, ax=axes, label="% slow-down over FT (no adapter)", shrink=0.8)
    fig.suptitle(
        f"Figure 5: GPT-2 medium widths, {opts['layers']} layer(s), {opts['trials']} trials, {opts['device']}",
        fontsize=10,
    )
    for ext in ("png", "pdf"):
        path = out / f"figure5.{ext}"
        fig.savefig(path, dpi=150, metadata={} if ext == "png" else {"CreationDate": None})
        files[f"figure5.{ext}"] = path
    plt.close(fig)
    return files
