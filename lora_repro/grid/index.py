"""``lora-repro index [profile=tiny|paper] [runs=runs] [out=results/<profile>]``: the results index.

Writes ``results/<profile>/README.md`` from what exists, running nothing: every table with a spec in
``configs/table/`` (its cells done / missing, the compute its done cells recorded, links to its
Markdown and its plot), the hyperparameter audits (tables whose spec has ``kind: hparams``: nothing
runs for them), the claims summary (``claims.md``), every figure in ``figures/``, and the environment
and commit the cells ran under (from their ``result.json``, as the tables' headers do). A table's
counts come from its run directories (the grid's cells, by config hash); when none of them is there
but ``tableN.csv`` is (committed results without their runs), from that file's seed counts.
The file holds no timestamp and names no checkout: the same results give the same bytes, and a
file whose content would not change is not rewritten. ``lora-repro table all`` ends by writing it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_repro.config import config_dir, split_args

OWN: dict[str, Any] = {"profile": "tiny", "runs": "runs", "out": None}
PROFILES = ("tiny", "paper")
TITLE = "Results index"


@dataclass
class TableStatus:
    """One table of the index: its cells done / expected, their compute, where the counts come from."""

    table: str
    title: str
    hparams: bool = False
    done: int = 0
    cells: int = 0
    compute_s: float = 0.0
    source: str = "run directories"
    results: list[dict[str, Any]] = field(default_factory=list)  # the done cells' result.json
    ids: list[str] = field(default_factory=list)  # done cells' ids (shared cells counted once in totals)
    header: list[str] = field(default_factory=list)  # csv-counted: commit and environment of its md/csv


def table_number(path: Path) -> tuple[int, str]:
    """Sort key of ``tableN.yaml``: numerically, then by name."""
    stem = path.stem.removeprefix("table")
    return (int(stem), stem) if stem.isdigit() else (10**9, stem)


def spec_files(spec_dir: Path | None = None) -> list[Path]:
    """Every ``table*.yaml`` of ``configs/table/`` (or ``spec_dir``), in table order."""
    root = Path(spec_dir) if spec_dir is not None else config_dir() / "table"
    return sorted(root.glob("table*.yaml"), key=table_number)


def csv_counts(path: Path) -> tuple[int, int]:
    """(seed slots done, seed slots expected) of a rendered ``tableN.csv``: per row and task, once."""
    done = expected = 0
    seen: set[tuple[int, str]] = set()
    row, first = -1, None
    for line in csv.DictReader(path.read_text().splitlines()):
        first = first or line["column"]
        row += line["column"] == first  # a new spec row starts at the first column (labels may repeat)
        if not line.get("task") or (row, line["task"]) in seen:
            continue
        seen.add((row, line["task"]))
        done += int(line.get("n_seeds") or 0)
        expected += int(line.get("n_expected") or 0)
    return done, expected


def experiment_status(path: Path, own: dict[str, Any], resolver=None) -> TableStatus:  # noqa: ANN001
    """A run table's status from its grid's run directories, or from ``tableN.csv`` when that holds more cells."""
    from lora_repro.grid.cli import build_grid
    from lora_repro.tables.aggregate import read_results

    grid = build_grid(str(path), {**own, "seeds": None}, [], resolver)
    status = TableStatus(str(grid.spec.table), grid.spec.title, cells=len(grid.cells))
    done = [c for c in grid.cells if c.done]
    results, _ = read_results({c.run_dir for c in done}, {c.run_dir: c.id for c in done})
    status.results = [r for r in results.values() if r is not None]
    status.ids = [c.id for c in done if results.get(c.run_dir) is not None]
    status.done = len(status.ids)
    status.compute_s = sum(float(r.get("wall_time_s") or 0.0) for r in status.results)
    rendered = out_dir(own) / f"table{grid.spec.table}.csv"
    if rendered.is_file():
        # The rendered table, when it holds more cells than the run directories here: a checkout whose
        # runs/ has only some of a table's cells (another table's or a learnability run's, which share
        # config hashes) would otherwise under-count the committed table.
        done, cells = csv_counts(rendered)
        if done > status.done:
            runs = (
                "no run directories"
                if not status.done
                else f"only {status.done} of its cells' run directories"
            )
            status.results, status.ids = [], []
            status.done, status.cells = done, cells
            status.source = (
                f"{rendered.name}: row x task x seed slots ({runs} under {own['runs']}/{own['profile']})"
            )
            status.compute_s = md_compute(rendered.with_suffix(".md"))
            status.header = csv_header(rendered)
    return status


def csv_header(path: Path) -> list[str]:
    """The commit (csv ``commit`` column) and the ``Environment:`` line of a rendered table's md."""
    commits = sorted(
        {line.get("commit") or "" for line in csv.DictReader(path.read_text().splitlines())} - {""}
    )
    md = path.with_suffix(".md")
    env = re.findall(r"^(Environment: .*?)\s*$", md.read_text(), re.MULTILINE) if md.is_file() else []
    head = [f"{path.stem}: cells computed at git commit {', '.join(commits)}"] if commits else []
    return head + [f"{path.stem}: {e}" for e in env[:1]]


def md_compute(path: Path) -> float:
    """The ``Compute: X min`` of a rendered table's header, in seconds (0 when absent)."""
    text = path.read_text() if path.is_file() else ""
    m = re.search(r"^Compute: ([0-9.]+) min", text, re.MULTILINE)
    return float(m.group(1)) * 60 if m else 0.0


def statuses(own: dict[str, Any], spec_dir: Path | None = None, resolver=None) -> list[TableStatus]:  # noqa: ANN001
    """Every table with a spec, in table order."""
    import yaml

    out = []
    for path in spec_files(spec_dir):
        raw = yaml.safe_load(path.read_text()) or {}
        if raw.get("kind") == "hparams":
            number = str(raw.get("table", path.stem.removeprefix("table")))
            out.append(TableStatus(number, str(raw.get("title", "")), hparams=True, source="audit"))
        else:
            out.append(experiment_status(path, own, resolver))
    return out


def out_dir(own: dict[str, Any]) -> Path:
    return Path(own["out"] or Path("results") / own["profile"])


def link(out: Path, name: str) -> str:
    """``[name](name)`` when ``out/name`` exists, else an em dash."""
    return f"[{name}]({name})" if (out / name).is_file() else "—"


def claims_lines(out: Path) -> list[str]:
    """The claims summary line of ``claims.md`` and a link to it."""
    path = out / "claims.md"
    if not path.is_file():
        return [f"None yet: `lora-repro claims profile={out.name}` writes claims.md."]
    summary = [line.strip() for line in path.read_text().splitlines() if re.match(r"^\d+ claims?:", line)]
    return [*(summary[:1] or ["(claims.md has no summary line)"]), "", "Per claim: [claims.md](claims.md)."]


def figure_lines(out: Path) -> list[str]:
    """One link per figure image in ``figures/`` (and Table 7, which the figure command writes)."""
    figs = sorted((out / "figures").glob("*.png")) if (out / "figures").is_dir() else []
    lines = [f"- [{p.stem}](figures/{p.name})" + (f" ([csv](figures/{p.stem}.csv))" if p.with_suffix(".csv").is_file() else "") for p in figs]  # fmt: skip
    if (out / "table7.md").is_file():
        lines.append("- [table7](table7.md)")
    return lines or ["None yet: `lora-repro figure all` draws them."]


def to_markdown(tables: list[TableStatus], profile: str, out: Path) -> str:
    """The index as Markdown: deterministic in the results it reads."""
    from lora_repro.environment import environment_of
    from lora_repro.tables.render import cells_commit, cells_environments, environment_lines

    unique: dict[str, dict[str, Any]] = {}
    for t in tables:
        unique.update(zip(t.ids, t.results, strict=True))
    runs = [t for t in tables if not t.hparams]
    total_s = sum(float(r.get("wall_time_s") or 0.0) for r in unique.values())
    total_s += sum(t.compute_s for t in runs if not t.ids)  # tables counted from their csv
    commit = cells_commit([r.get("git_commit") for r in unique.values()], fallback="none (no cell done)")
    lines = [f"# {TITLE} (profile `{profile}`)", ""]
    lines += [
        f"Written by `lora-repro index profile={profile}` (also the last step of `lora-repro table all` / "
        "`make reproduce-all`) from the run directories and the files in this folder; nothing here is "
        "edited by hand.  ",
        f"Cells computed at git commit {commit}.  ",
        *(f"{line}  " for line in environment_lines(cells_environments([environment_of(r) for r in unique.values()]))),
        *(f"{line}  " for t in runs if not t.ids for line in t.header),
        f"Compute: {total_s / 60:.1f} min summed over the cells' own wall times (a cell shared by tables "
        "counted once).",
        "",
        "## Tables",
        "",
        "| table | title | cells done | missing | compute (min) | table | plot | counted from |",
        "|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for t in tables:
        md, png = link(out, f"table{t.table}.md"), link(out, f"table{t.table}.png")
        if t.hparams:
            lines.append(
                f"| {t.table} | {t.title} | audit | — | — | {md} | — | hyperparameters (nothing runs) |"
            )
            continue
        missing = t.cells - t.done
        lines.append(
            f"| {t.table} | {t.title} | {t.done}/{t.cells} | {missing} | {t.compute_s / 60:.1f} | {md} | {png} | {t.source} |"
        )
    done = sum(t.done for t in runs)
    expected = sum(t.cells for t in runs)
    lines += ["", f"{len(runs)} run tables: {done}/{expected} cells done, {expected - done} missing; "
              f"{len(tables) - len(runs)} hyperparameter audits.", ""]  # fmt: skip
    lines += ["## Claims", "", *claims_lines(out), "", "## Figures", "", *figure_lines(out)]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_index(own: dict[str, Any], spec_dir: Path | None = None, resolver=None) -> Path:  # noqa: ANN001
    """Write ``results/<profile>/README.md`` (untouched when its content would not change)."""
    from lora_repro.tables.render import write_atomic

    out = out_dir(own)
    path = out / "README.md"
    write_atomic(path, to_markdown(statuses(own, spec_dir, resolver), own["profile"], out))
    return path


def check(own: dict[str, Any]) -> None:
    if own["profile"] not in PROFILES:
        raise ValueError(f"profile={own['profile']!r} not allowed; allowed: {list(PROFILES)}")


def main(argv: list[str], resolver=None, spec_dir: Path | None = None) -> int:  # noqa: ANN001
    """Entry point of ``lora-repro index``."""
    own, rest = split_args(list(argv), OWN)
    if rest:
        raise ValueError(f"unknown argument {rest[0]!r}; allowed: {', '.join(f'{k}=' for k in OWN)}")
    check(own)
    print(f"wrote {write_index(own, spec_dir, resolver)}")
    return 0
