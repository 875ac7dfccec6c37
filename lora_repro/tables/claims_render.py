"""``results/<profile>/claims.md``: every claim with the paper's numbers, ours, and the verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lora_repro.tables.claims import FAILS, HOLDS, NOT_ENOUGH, Side, Verdict, side_cells
from lora_repro.tables.render import markdown_grid
from lora_repro.tables.spec import TableSpec


@dataclass(frozen=True)
class TableClaims:
    """One table's verdicts and where its cells came from."""

    spec: TableSpec
    verdicts: list[Verdict]
    source: (
        str  # "results/tiny/table2.csv (cells computed at commit ...)" or "run directories under runs/tiny"
    )


def row_name(spec: TableSpec, i: int) -> str:
    """A row's label with its †, and its printed |Θ| when another row has the same label."""
    row = spec.rows[i]
    name = row.label + ("†" if row.dagger else "")
    twins = [r for r in spec.rows if r.label == row.label and r.dagger == row.dagger]
    return f"{name} {row.paper_trainable}" if len(twins) > 1 and row.paper_trainable else name


def describe(spec: TableSpec, side: Side) -> str:
    """``max of BLEU over [GPT-2 M (Adapter^L) 0.37M, GPT-2 M (PreLayer)]``."""
    rows = list(dict.fromkeys(i for i, _ in side_cells(spec, side)))
    names = ", ".join(row_name(spec, i) for i in rows)
    what = "/".join(side.columns)
    if len(rows) == 1 and len(side.columns) == 1:
        return f"{what} of {names}"
    return f"{side.reduce} of {what} over [{names}]"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _pair(a: float | None, b: float | None, verdict: str) -> str:
    return f"{_num(a)} vs {_num(b)}: {verdict}"


def summary(tables: list[TableClaims]) -> str:
    """``12 claims: 3 hold, 2 do not hold, 7 not enough cells (the paper's own numbers: 12 hold).``"""
    ours = Counter(v.ours for t in tables for v in t.verdicts)
    paper = Counter(v.paper for t in tables for v in t.verdicts)
    n = sum(ours.values())
    return (
        f"{n} claims: {ours[HOLDS]} hold, {ours[FAILS]} do not hold, {ours[NOT_ENOUGH]} not enough cells "
        f"(on the paper's own numbers: {paper[HOLDS]} hold, {paper[FAILS]} do not hold, "
        f"{paper[NOT_ENOUGH]} not enough cells)."
    )


def to_markdown(tables: list[TableClaims], command: str, profile: str, commit: str) -> str:
    """The claims report."""
    lines = [
        f"# The paper's claims, judged on the reproduced tables (profile `{profile}`)",
        "",
        f"Produced by `{command}` (profile `{profile}`, git commit {commit}).  ",
        "Each claim is a predicate over one table's cells (configs/claims/tableN.yaml) with a tolerance taken "
        "from the paper's own spread, judged on the paper's numbers and on ours: `>=` means lhs ≥ rhs − tol, "
        "`>` lhs > rhs + tol, `~` |lhs − rhs| ≤ tol. *not enough cells*: a cell it needs is missing or lacks "
        "seeds. The claims were written from the paper; no hyperparameter is chosen by looking at a verdict.  ",
        summary(tables),
        "",
    ]
    for t in tables:
        lines += [f"## Table {t.spec.table}: {t.spec.title}", "", f"Cells: {t.source}.", ""]
        grid = [["claim", "predicate (tolerance)", "paper", "ours", "verdict"]]
        for v in t.verdicts:
            c = v.claim
            pred = f"{describe(t.spec, c.lhs)} {c.op} {describe(t.spec, c.rhs)} ({c.tolerance:g})"
            text = c.text + (f" ({c.where})" if c.where else "")
            grid.append(
                [text, pred, _pair(v.paper_lhs, v.paper_rhs, v.paper), _pair(v.ours_lhs, v.ours_rhs, v.ours),
                 f"**{v.ours}**"]
            )  # fmt: skip
        lines += markdown_grid(grid)
        notes = []
        for v in t.verdicts:
            if v.claim.tolerance_why:
                notes.append(f"- `{v.claim.id}` tolerance {v.claim.tolerance:g}: {v.claim.tolerance_why}.")
            if v.missing:
                shown = ", ".join(v.missing[:4]) + (
                    f" and {len(v.missing) - 4} more" if len(v.missing) > 4 else ""
                )
                notes.append(f"- `{v.claim.id}` lacks: {shown}.")
        lines += ["", *notes, ""] if notes else [""]
    return "\n".join(lines).rstrip("\n") + "\n"
