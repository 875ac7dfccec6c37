"""Plot a reproduced table: ours against the paper's, one panel per column, one line per row (PNG).

Reads the CSV that ``lora-repro table N`` writes (``results/<profile>/tableN.csv``); runs no cell.
Each panel is one column of the table (one metric, one scale); each row of the table is a line on
the y axis with the paper's number (x), our aggregate (dot, ± the seed spread as a bar) and every
seed's value (small dots). A provenance line under the figure names the command, the commit that
computed the cells and the commit that drew the plot.

    python -m lora_repro.tables.plot results/tiny/table2.csv [--out table2.png]
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lora_repro import atomic

REQUIRED = ("row", "column", "ours", "paper")


@dataclass
class Point:
    """One cell of the table: ours (aggregate, spread, seeds) and the paper's number."""

    ours: float | None
    spread: float | None
    seeds: list[float] = field(default_factory=list)
    paper: float | None = None


@dataclass
class Plotted:
    """A table read for plotting: row labels, column names, and the points by (row, column)."""

    table: str
    profile: str
    commit: str
    rows: list[str]
    columns: list[str]
    points: dict[tuple[str, str], Point]


def _num(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def is_result_table(path: str | Path) -> bool:
    """True when the CSV holds ours-vs-paper results (Tables 2, 3, ...), not an hparams audit."""
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    return all(k in header for k in REQUIRED)


def read_table(path: str | Path) -> Plotted:
    """Read a ``tableN.csv``; rows that share a label (two Adpt^D sizes) are told apart by |Θ|."""
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    if not records:
        raise ValueError(f"{path}: no rows")
    missing = [k for k in REQUIRED if k not in records[0]]
    if missing:
        raise ValueError(f"{path}: not a results table (no column(s) {missing})")
    labels: dict[tuple[str, str], None] = {}
    for r in records:
        labels[(r["row"], r.get("trainable_ours", ""))] = None
    by_name: dict[str, int] = {}
    for name, _ in labels:
        by_name[name] = by_name.get(name, 0) + 1
    label_of = {
        key: (f"{key[0]} [{_count(key[1])}]" if by_name[key[0]] > 1 and key[1] else key[0]) for key in labels
    }
    rows, columns, points = [], [], {}
    for r in records:
        row = label_of[(r["row"], r.get("trainable_ours", ""))]
        if row not in rows:
            rows.append(row)
        if r["column"] not in columns:
            columns.append(r["column"])
        seeds = [v for v in (_num(s) for s in (r.get("seed_values") or "").split()) if v is not None]
        points[(row, r["column"])] = Point(_num(r["ours"]), _num(r.get("spread")), seeds, _num(r["paper"]))
    commits = sorted({r.get("commit", "") for r in records if r.get("commit")})
    return Plotted(
        table=records[0].get("table", Path(path).stem),
        profile=records[0].get("profile", ""),
        commit=", ".join(commits) or "unknown",
        rows=rows,
        columns=columns,
        points=points,
    )


def _count(text: str) -> str:
    value = _num(text)
    if value is None:
        return text
    for unit, size in (("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:g}"


def plot_table(data: Plotted, out: str | Path, provenance: str = "", ncols: int = 5) -> Path:
    """Draw ``data`` to the PNG ``out`` (written atomically); return its path."""
    from matplotlib.figure import Figure  # no pyplot: leaves a notebook's backend alone
    from matplotlib.lines import Line2D

    n = len(data.columns)
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    height = 0.8 + 0.28 * len(data.rows)
    fig = Figure(figsize=(3.0 * ncols + 2.5, height * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    ys = list(range(len(data.rows)))
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        col = data.columns[k]
        for y, row in enumerate(data.rows):
            p = data.points.get((row, col))
            if p is None:
                continue
            if p.seeds:
                ax.scatter(p.seeds, [y] * len(p.seeds), s=6, color="tab:blue", alpha=0.35, zorder=2)
            if p.ours is not None:
                ax.errorbar(
                    p.ours, y, xerr=p.spread or 0, fmt="o", ms=4, color="tab:blue", capsize=2, zorder=3
                )
            if p.paper is not None:
                ax.scatter([p.paper], [y], marker="x", s=30, color="tab:red", zorder=4)
        ax.set_title(col, fontsize=9)
        ax.set_yticks(ys)
        ax.set_yticklabels(data.rows if k % ncols == 0 else [], fontsize=7)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    handles = [
        Line2D([], [], marker="o", ls="", color="tab:blue", label="ours (median ± sample std over seeds)"),
        Line2D([], [], marker=".", ls="", color="tab:blue", alpha=0.35, label="ours, each seed"),
        Line2D([], [], marker="x", ls="", color="tab:red", label="paper"),
    ]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=3, frameon=False)
    fig.suptitle(
        f"Table {data.table} (profile {data.profile}): ours vs the paper", x=0.02, ha="left", fontsize=10
    )
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    if provenance:
        fig.text(0.01, 0.005, provenance, fontsize=6, ha="left", va="bottom", color="0.35")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format="png", metadata={"Software": None, "Description": provenance or None})
    out = Path(out)
    if out.is_file() and out.read_bytes() == buf.getvalue():
        return out  # unchanged: leave the file (and its mtime) alone, as render.py does
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
        os.chmod(tmp, atomic.shared_mode())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def provenance_line(csv_path: str | Path, command: str, data: Plotted) -> str:
    """``Plotted by `<command>` from <csv> (cells computed at commit X); plotted at commit Y.``"""
    from lora_repro.config import git_commit

    return f"Plotted by `{command}` from {csv_path} (cells computed at commit {data.commit}); plotted at commit {git_commit()}."


def plot_csv(csv_path: str | Path, command: str, out: str | Path | None = None) -> Path:
    """Plot ``results/<profile>/tableN.csv`` to ``out`` (default: beside it, ``.png``), with provenance.

    The hook for ``lora-repro table N``'s render step: ``plot_csv(paths["csv"], command_line)``.
    """
    csv_path = Path(csv_path)
    data = read_table(csv_path)
    return plot_table(data, out or csv_path.with_suffix(".png"), provenance_line(csv_path, command, data))


def main(argv: list[str] | None = None) -> int:
    """``python -m lora_repro.tables.plot CSV [CSV ...] [--out PNG]``: one PNG beside each CSV."""
    parser = argparse.ArgumentParser(
        prog="python -m lora_repro.tables.plot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("csv", nargs="+", type=Path, help="results/<profile>/tableN.csv")
    parser.add_argument("--out", type=Path, help="PNG path (one CSV only; default: the CSV's, .png)")
    args = parser.parse_args(argv)
    if args.out and len(args.csv) > 1:
        parser.error("--out takes one CSV")
    for path in args.csv:
        command = f"python -m lora_repro.tables.plot {path}" + (f" --out {args.out}" if args.out else "")
        print(plot_csv(path, command, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
