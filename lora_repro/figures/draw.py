"""Drawing with matplotlib (Agg, no display): φ heatmaps as the paper draws them, Figure 2's scatter.

Heatmaps: i (the first subspace's directions) down the rows from 1 at the top, j along the columns,
colour range fixed to [0, 1] with a colour bar, one figure row per layer. Every figure is written
as PNG and PDF (each through a temp file and ``os.replace``) and its numbers as CSV beside it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic
from lora_repro.figures.compute import Panel

FORMATS = ("png", "pdf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def ticks(n: int, most: int = 11) -> list[int]:
    """1-based tick positions for an axis of n cells: 1, then evenly spaced, up to n (as the paper's)."""
    if n <= most:
        return list(range(1, n + 1))
    step = (n - 1) / (most - 1)
    return sorted({1 + round(k * step) for k in range(most)})


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """``stem.png`` and ``stem.pdf``, each written to a temp file first; the figure is closed after."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in FORMATS:
        path = stem.with_suffix(f".{fmt}")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".{fmt}")
        os.close(fd)
        try:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight", metadata=_metadata(fmt))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out.append(path)
    _pyplot().close(fig)
    return out


def _metadata(fmt: str) -> dict[str, Any]:
    # no creation date: the same numbers give the same files
    return {"CreationDate": None} if fmt == "pdf" else {}


def write_csv(path: Path, rows: Sequence[dict[str, Any]], header: Sequence[str] = ()) -> Path:
    """``rows`` as CSV (the first row's keys as columns), after ``# `` comment lines ``header``."""
    buf = io.StringIO()
    for line in header:
        buf.write(f"# {line}\n")
    if rows:
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, buf.getvalue())
    return path


def _caption(fig: Any, lines: Sequence[str], width: int) -> None:
    text = "\n".join(textwrap.fill(line, width) for line in lines if line)
    if text:
        fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=8, wrap=True)


def heatmaps(panels: Sequence[Panel], title: str, caption: Sequence[str], stem: Path) -> list[Path]:
    """One row per group (layer), one heatmap per panel, a shared [0, 1] colour bar per row."""
    plt = _pyplot()
    groups = list(dict.fromkeys(p.group for p in panels))
    ncols = max(sum(p.group == g for p in panels) for g in groups)
    fig, axes = plt.subplots(
        len(groups), ncols, figsize=(3.3 * ncols + 0.8, 2.8 * len(groups) + 0.6), squeeze=False
    )
    fig.subplots_adjust(hspace=0.6)
    for r, group in enumerate(groups):
        row = [p for p in panels if p.group == group]
        image = None
        for c, ax in enumerate(axes[r]):
            if c >= len(row):
                ax.axis("off")
                continue
            p = row[c]
            values = p.values.detach().cpu().numpy()
            n_i, n_j = values.shape
            image = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto", interpolation="nearest",
                              extent=(0.5, n_j + 0.5, n_i + 0.5, 0.5))  # fmt: skip
            ax.set_xticks(ticks(n_j, 8))
            ax.set_yticks(ticks(n_i, 8))
            ax.tick_params(labelsize=7)
            ax.set_xlabel("j", fontsize=8)
            ax.set_ylabel(f"{group}\ni" if c == 0 else "i", fontsize=8)
            ax.set_title(p.title, fontsize=8, color="dimgray" if p.random else "black")
        if image is not None:
            fig.colorbar(image, ax=list(axes[r]), fraction=0.02, pad=0.01, label="φ(i, j)")
    fig.suptitle(title, fontsize=10, y=1.0 + 0.04 / len(groups))
    _caption(fig, caption, 40 * ncols)
    return save_figure(fig, stem)


def accuracy_scatter(
    points: Sequence[dict[str, Any]],
    tasks: Sequence[tuple[str, str]],
    title: str,
    caption: Sequence[str],
    stem: Path,
) -> list[Path]:
    """Figure 2: validation accuracy against log10 |Θ|, one panel per task and source (ours, paper),
    one colour per method family, points of a family joined in order of |Θ|."""
    plt = _pyplot()
    sources = [("ours", "ours_trainable", "ours"), ("paper", "paper_trainable", "paper")]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks) + 1.4, 7.0), squeeze=False)
    fig.subplots_adjust(hspace=0.45, right=1 - 1.4 / (4.2 * len(tasks) + 1.4))  # room for x labels, legend
    methods = list(dict.fromkeys(p["method"] for p in points))
    colours = {m: plt.get_cmap("tab10")(k % 10) for k, m in enumerate(methods)}
    for r, (source, x_key, y_prefix) in enumerate(sources):
        for c, (key, label) in enumerate(tasks):
            ax = axes[r][c]
            for m in methods:
                mine = [p for p in points if p["method"] == m and p["task"] == key]
                mine = [p for p in mine if p.get(x_key) and p.get(f"{y_prefix}_value") is not None]
                mine.sort(key=lambda p: p[x_key])
                if not mine:
                    continue
                xs = [math.log10(p[x_key]) for p in mine]
                ys = [p[f"{y_prefix}_value"] for p in mine]
                ax.plot(xs, ys, "o-", color=colours[m], label=m, markersize=4, linewidth=1)
            ax.set_title(f"{label} ({source})", fontsize=9)
            ax.set_xlabel("log10 # trainable parameters", fontsize=8)
            ax.set_ylabel("validation accuracy", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    _caption(fig, caption, 110)
    return save_figure(fig, stem)
