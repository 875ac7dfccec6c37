"""Render a reproduced table as Markdown, CSV and LaTeX: ours beside the paper's, and the difference.

Each method row is printed three times: ``ours`` (aggregate ± spread and the seed count), ``paper``
(as printed, ± its spread) and ``Δ`` (ours - paper). The header says which command, profile and git
commit produced the table and which cells are still missing. ``*`` (paper number cited from prior
work) and ``†`` (restricted setup) stay on the row labels. Files are written atomically and left
untouched when their content would not change, so rerunning a finished table changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from lora_repro import atomic
from lora_repro.config import DIRTY
from lora_repro.tables.aggregate import Entry, RowResult, format_count, format_value
from lora_repro.tables.spec import TableSpec


@dataclass(frozen=True)
class Provenance:
    """What produced a table: the command line, the profile, the git commit, the seeds."""

    command: str
    profile: str
    commit: str
    seeds: tuple[int, ...]
    compute_s: float = 0.0  # sum of the cells' own wall times (stable across reruns)
    # (environment_key, number of cells) for every environment the table's cells ran under, most cells first
    environments: tuple = ()
    # who ran for a role without public weights (GPT-3 175B): "facebook/opt-30b (as gpt3-175b)"
    played_by: tuple[str, ...] = ()


def cells_commit(commits: list[str | None], fallback: str) -> str:
    """The commit(s) that produced a table's cells (their ``result.json`` ``git_commit``), 12 digits each.

    A table names the code that computed its numbers, not the checkout that rendered it, so
    rendering the same cells again gives the same file. ``fallback`` (HEAD) when no cell says.
    """
    counts: dict[str, int] = {}
    for c in commits:
        if not c:
            continue
        sha, dirty, _ = c.partition(DIRTY)
        key = sha.strip()[:12] + (DIRTY if dirty == DIRTY else "")
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return fallback
    if len(counts) == 1:
        return next(iter(counts))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} ({n} cell{'s' if n > 1 else ''})" for k, n in ranked)


def cells_environments(envs: list[dict | None]) -> tuple:
    """The environments a table's cells ran under (their ``result.json`` ``environment``), with counts."""
    from lora_repro.environment import environment_key

    counts: dict[tuple, int] = {}
    for env in envs:
        key = environment_key(env)
        counts[key] = counts.get(key, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def environment_lines(environments: tuple) -> list[str]:
    """One line naming the environment; a flagged list when the cells ran under several."""
    from lora_repro.environment import environment_text

    if not environments:
        return []
    if len(environments) == 1:
        return [f"Environment: {environment_text(environments[0][0])}."]
    fields = [dict(key) for key, _ in environments]
    names = sorted({k for f in fields for k in f})
    differ = [k for k in names if len({f.get(k) for f in fields}) > 1]
    lines = [
        f"WARNING: mixed environments: the cells ran under {len(environments)} different environments "
        f"(they differ in {', '.join(differ)}), so numbers may differ for that reason alone:"
    ]
    for key, n in environments:
        lines.append(f"- {n} cell{'s' if n > 1 else ''}: {environment_text(key)}.")
    return lines


def row_label(result: RowResult) -> str:
    """The row label with its ``*`` (cited) and ``†`` (restricted setup) marks."""
    row = result.row
    return row.label + ("*" if row.cited else "") + ("†" if row.dagger else "")


def column_digits(results: list[RowResult], key: str) -> int:
    """Decimals to print in a column: the most the paper prints in it (at least 1), else 2."""
    found = [
        len(e.paper_text.strip().split(".")[1]) if "." in e.paper_text else 0
        for r in results
        if (e := r.entries.get(key)) is not None and e.paper is not None
    ]
    return max(1, max(found)) if found else 2


def ours_text(entry: Entry, d: int = 2) -> str:
    """``70.41±0.12 (3)`` with ``d`` decimals; ``(2/3 missing)`` when seeds are missing; ``—`` when none ran."""
    if entry.value is None:
        return "—" + (f" ({entry.note})" if entry.note and entry.column.task else "")
    text = format_value(entry.value, d)
    if entry.spread is not None:
        text += f"±{format_value(entry.spread, d)}"
    count = f"{entry.n}" if entry.n >= entry.expected else f"{entry.n}/{entry.expected} missing"
    return f"{text} ({count})"


def paper_text(entry: Entry, d: int | None = None) -> str:
    """The paper's number (with ``d`` decimals, as the column prints them), with its ± when it has one."""
    if entry.paper is None:
        return entry.paper_text
    text = entry.paper_text if d is None else f"{entry.paper:.{d}f}"
    if entry.paper_spread is not None:
        text += f"±{entry.paper_spread:g}" if d is None else f"±{entry.paper_spread:.{d}f}"
    return text


def diff_text(entry: Entry, d: int = 2) -> str:
    """ours - paper with a sign, empty when either is missing."""
    diff = entry.diff
    return "" if diff is None else f"{diff:+.{d}f}"


def header_lines(spec: TableSpec, results: list[RowResult], prov: Provenance) -> list[str]:
    """Provenance, aggregation, marks and missing cells: the lines above the table."""
    how = "median" if spec.aggregate == "median" else "mean"
    missing = [f"{row_label(r)}: {', '.join(r.missing)}" for r in results if r.missing]
    lines = [
        f"Produced by `{prov.command}` (profile `{prov.profile}`, git commit {prov.commit}).",
        f"Ours: {how} over seeds {list(prov.seeds)} ± sample std, (n) = seeds done; "
        "paper: as printed in Hu et al. (2021); Δ = ours - paper.",
        "* paper number cited from prior work; † restricted setup (MRPC/RTE/STS-B from the pretrained model).",
    ]
    lines += environment_lines(prov.environments)
    if prov.played_by:
        lines.append("Played by (no public weights): " + "; ".join(prov.played_by) + ".")
    if prov.compute_s:
        lines.append(f"Compute: {prov.compute_s / 60:.1f} min summed over the cells' own wall times.")
    lines.append("Missing cells: " + ("; ".join(missing) if missing else "none") + ".")
    return lines


def _grid(spec: TableSpec, results: list[RowResult]) -> list[list[str]]:
    """The table as rows of strings: a header, then ours / paper / Δ for every method row."""
    head = ["Model & Method", "", "# Trainable", *[c.label for c in spec.columns]]
    out = [head]
    digits = [column_digits(results, c.key) for c in spec.columns]
    for r in results:
        entries = [r.entries.get(c.key) for c in spec.columns]
        out.append([row_label(r), "ours", format_count(r.trainable, r.row.paper_trainable)])
        out[-1] += [ours_text(e, d) if e else "" for e, d in zip(entries, digits, strict=True)]
        out.append(
            [
                "",
                "paper",
                r.row.paper_trainable or "",
                *[paper_text(e, d) if e else "" for e, d in zip(entries, digits, strict=True)],
            ]
        )
        out.append(
            ["", "Δ", "", *[diff_text(e, d) if e else "" for e, d in zip(entries, digits, strict=True)]]
        )
    return out


def markdown_grid(grid: list[list[str]]) -> list[str]:
    """A GitHub Markdown table: ``grid[0]`` the header, then the rows (a ``|`` in a cell escaped)."""
    lines = ["| " + " | ".join(grid[0]) + " |", "|" + "---|" * len(grid[0])]
    return lines + ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in grid[1:]]


def to_markdown(spec: TableSpec, results: list[RowResult], prov: Provenance) -> str:
    """The table as GitHub Markdown with its provenance header."""
    lines = [f"# Table {spec.table}: {spec.title}", ""]
    lines += [f"{line}  " for line in header_lines(spec, results, prov)] + [""]
    lines += markdown_grid(_grid(spec, results))
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "table", "row", "model", "method", "cited", "dagger", "column", "task", "metric", "ours", "spread",
    "n_seeds", "n_expected", "seed_values", "paper", "paper_spread", "diff", "trainable_ours",
    "trainable_paper", "profile", "commit",
]  # fmt: skip


def to_csv(spec: TableSpec, results: list[RowResult], prov: Provenance) -> str:
    """One line per (row, column): tidy data for plots and checks."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        for col in spec.columns:
            e = r.entries.get(col.key)
            if e is None:
                continue
            writer.writerow(
                {
                    "table": spec.table,
                    "row": r.row.label,
                    "model": r.row.model,
                    "method": r.row.method_name,
                    "cited": int(r.row.cited),
                    "dagger": int(r.row.dagger),
                    "column": col.key,
                    "task": col.task or "",
                    "metric": col.metric or "",
                    "ours": _num(e.value),
                    "spread": _num(e.spread),
                    "n_seeds": e.n,
                    "n_expected": e.expected,
                    "seed_values": " ".join(_num(v) for v in e.values) if not col.average_of else "",
                    "paper": e.paper_text,
                    "paper_spread": _num(e.paper_spread),
                    "diff": _num(e.diff),
                    "trainable_ours": "" if r.trainable is None else r.trainable,
                    "trainable_paper": r.row.paper_trainable or "",
                    "profile": prov.profile,
                    "commit": prov.commit,
                }  # fmt: skip
            )
    return buf.getvalue()


def _num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
               "~": r"\textasciitilde{}", "$": r"\$", "±": r"$\pm$", "†": r"$^\dagger$", "Δ": r"$\Delta$",
               "—": "--", "^": r"\textasciicircum{}"}  # fmt: skip


def tex_escape(text: str) -> str:
    """Text made safe for LaTeX (``_``, ``%`` ... escaped; ±, †, Δ as math; ``Adapter^L`` as a superscript)."""
    parts = re.split(r"\^(\w+)", text)  # odd items: superscripts
    return "".join(
        f"$^{{{p}}}$" if i % 2 else "".join(TEX_ESCAPES.get(ch, ch) for ch in p) for i, p in enumerate(parts)
    )


def to_latex(spec: TableSpec, results: list[RowResult], prov: Provenance) -> str:
    """A booktabs ``table`` environment; the provenance header goes into LaTeX comments."""
    grid = _grid(spec, results)
    lines = [f"% {line}" for line in header_lines(spec, results, prov)]
    lines += [
        r"\begin{table}[t]",
        r"\centering\small",
        r"\begin{tabular}{ll" + "r" * (len(grid[0]) - 2) + "}",
    ]
    lines += [r"\toprule", " & ".join(tex_escape(c) for c in grid[0]) + r" \\", r"\midrule"]
    for i, cells in enumerate(grid[1:]):
        if i and i % 3 == 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(tex_escape(c) for c in cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [
        rf"\caption{{Table {spec.table} reproduced ({tex_escape(prov.profile)} profile): {tex_escape(spec.title)}}}"
    ]
    lines += [r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` through a temp file and ``os.replace``; False when it was already so."""
    if path.is_file() and path.read_text() == text:
        return False
    atomic.write_atomic(path, text)
    return True


def write_table(
    spec: TableSpec, results: list[RowResult], prov: Provenance, out_dir: Path
) -> dict[str, Path]:
    """Write ``table<N>.md``, ``.csv`` and ``.tex`` under ``out_dir``; returns their paths by format."""
    stem = f"table{spec.table}"
    paths = {}
    for ext, fn in (("md", to_markdown), ("csv", to_csv), ("tex", to_latex)):
        paths[ext] = out_dir / f"{stem}.{ext}"
        write_atomic(paths[ext], fn(spec, results, prov))
    return paths
