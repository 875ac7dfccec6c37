"""Render a hyperparameter audit (:mod:`lora_repro.tables.hparams`) as Markdown and CSV.

Per block of the paper's table, one ``ours`` and one ``paper`` line per item, a task per column; a
differing value is marked ``≠`` and tagged with where it comes from, and the block's notes say why.
Files are written atomically and left untouched when their content would not change.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lora_repro.tables.hparams import UNDOCUMENTED, AuditCell, Check, HparamsSpec, format_hparam
from lora_repro.tables.render import markdown_grid, write_atomic

SOURCE_TEXT = {
    "paper": "another part of the paper",
    "reference": "the reference scripts (microsoft/LoRA)",
    "ours": "our choice",
    "tiny": "the tiny profile (configs/profile/tiny.yaml)",
    UNDOCUMENTED: "UNDOCUMENTED: no note explains it",
}


@dataclass(frozen=True)
class HparamsProvenance:
    """What produced the audit: the command line, the profile, the git commit of the configs."""

    command: str
    profile: str
    commit: str


def ours_cell(check: Check) -> str:
    """Our value(s), ``≠ (source)`` when they differ from the paper, ``(source)`` when it prints none."""
    if not check.ours:
        return "—"
    text = " / ".join(format_hparam(v) for v in check.ours)
    if check.status == "differs":
        return f"{text} ≠ ({check.source})"
    if check.status == "unprinted":
        return f"{text} ({check.source})"
    return text


def counts(checks: list[Check]) -> Counter:
    """How many checks are the same as the paper, differ (per source), or are not printed."""
    c: Counter = Counter()
    for ch in checks:
        if ch.status == "same":
            c["same"] += 1
        elif ch.status in ("differs", "unprinted"):
            c[f"{ch.status}:{ch.source}"] += 1
        else:
            c["missing"] += 1
    return c


def summary_line(checks: list[Check]) -> str:
    """``Checks: 120 as the paper; 8 differ (4 reference, 4 ours); 16 not printed ...; 0 undocumented.``"""
    c = counts(checks)

    def part(status: str) -> str:
        by = {k.split(":", 1)[1]: n for k, n in c.items() if k.startswith(status + ":")}
        inner = ", ".join(f"{n} {s}" for s, n in sorted(by.items()))
        return f"{sum(by.values())}" + (f" ({inner})" if inner else "")

    undocumented = sum(n for k, n in c.items() if k.endswith(":" + UNDOCUMENTED))
    return (
        f"Checks: {c['same']} as the paper; {part('differs')} differ; {part('unprinted')} not printed by the "
        f"paper; {c['missing']} without a cell; {undocumented} undocumented."
    )


def _where_lines(cells: list[AuditCell], block: int) -> str:
    places: dict[str, list[str]] = {}
    for c in cells:
        if c.block == block:
            places.setdefault(c.where, [])
            if c.task not in places[c.where]:
                places[c.where].append(c.task)
    return "; ".join(f"{w} ({', '.join(t)})" for w, t in places.items()) or "none"


def _notes(spec: HparamsSpec, checks: list[Check]) -> list[str]:
    labels = dict(spec.tasks)
    grouped: dict[tuple[str, str, str], list[Check]] = {}
    for ch in checks:
        if ch.status in ("differs", "unprinted"):
            grouped.setdefault((ch.item.label, ch.source, ch.why), []).append(ch)
    lines = []
    for (label, source, why), group in grouped.items():
        by_value: dict[str, list[str]] = {}
        for c in group:
            pair = " / ".join(format_hparam(v) for v in c.ours)
            if c.status == "differs":
                pair += f" (paper {format_hparam(c.paper)})"
            by_value.setdefault(pair, []).append(labels[c.task])
        if len(by_value) == 1 and len(group) == len(labels):
            on = f"{next(iter(by_value))} on every task"
        else:
            on = "; ".join(f"{v} on {', '.join(tasks)}" for v, tasks in by_value.items())
        printed = "" if group[0].status == "differs" else " (the paper prints none)"
        lines.append(
            f"- {label}: ours {on}{printed}; from {SOURCE_TEXT[source]}" + (f": {why}" if why else ".")
        )
    return lines


def to_markdown(
    spec: HparamsSpec, checks: list[Check], cells: list[AuditCell], prov: HparamsProvenance
) -> str:
    """The audit as GitHub Markdown with its provenance header."""
    head = [
        f"Produced by `{prov.command}` (profile `{prov.profile}`, git commit {prov.commit}).",
        "Ours: what each cell of the experiment tables resolves to (`cell_config` on the grid's own overrides "
        f"for that cell, profile `{prov.profile}`); paper: as printed in Hu et al. (2021), Table {spec.table}.",
        "`≠ (source)`: ours differs from the paper and comes from: `paper` another table of the paper, `reference` "
        "the reference scripts, `ours` our choice, `tiny` the tiny profile's scale block, `undocumented` nothing "
        "(a bug or a missing note); "
        "`(source)` alone: the paper prints no value.",
    ]
    if spec.common:
        head.append(f"The paper, for every cell: {spec.common}")
    head.append(summary_line(checks))
    lines = [f"# Table {spec.table}: {spec.title}", "", *[f"{h}  " for h in head], ""]
    for bi, block in enumerate(spec.blocks):
        mine = [c for c in checks if c.block is block]
        grid = [["Item", "", *[label for _, label in spec.tasks]]]
        for item in block.items:
            row = [c for c in mine if c.item is item]
            grid.append([item.label, "ours", *[ours_cell(c) for c in row]])
            grid.append(["", "paper", *[format_hparam(c.paper) for c in row]])
        lines += [f"## {block.label}", "", f"Cells: {_where_lines(cells, bi)}.", ""]
        lines += markdown_grid(grid)
        notes = _notes(spec, mine)
        lines += ["", *notes, ""] if notes else [""]
    return "\n".join(lines).rstrip("\n") + "\n"


CSV_FIELDS = [
    "table",
    "block",
    "item",
    "key",
    "task",
    "ours",
    "paper",
    "status",
    "source",
    "why",
    "profile",
    "commit",
]


def to_csv(spec: HparamsSpec, checks: list[Check], prov: HparamsProvenance) -> str:
    """One line per (block, item, task)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for c in checks:
        writer.writerow(
            {
                "table": spec.table,
                "block": c.block.label,
                "item": c.item.label,
                "key": c.item.key,
                "task": c.task,
                "ours": " / ".join(format_hparam(v) for v in c.ours),
                "paper": format_hparam(c.paper),
                "status": c.status,
                "source": c.source,
                "why": c.why,
                "profile": prov.profile,
                "commit": prov.commit,
            }  # fmt: skip
        )
    return buf.getvalue()


def write_hparams_table(
    spec: HparamsSpec, checks: list[Check], cells: list[AuditCell], prov: HparamsProvenance, out_dir: Path
) -> dict[str, Path]:
    """Write ``table<N>.md`` and ``.csv`` under ``out_dir``; returns their paths by format."""
    stem = f"table{spec.table}"
    paths = {"md": out_dir / f"{stem}.md", "csv": out_dir / f"{stem}.csv"}
    write_atomic(paths["md"], to_markdown(spec, checks, cells, prov))
    write_atomic(paths["csv"], to_csv(spec, checks, prov))
    return paths
