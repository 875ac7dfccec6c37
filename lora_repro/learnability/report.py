"""``results/<profile>/learnability.{md,csv}``: one row per task with baseline, untrained, LoRA, FT
and the verdict, under the tables' provenance header (command, profile, commit, environment).

Values are the cells' ``result.json`` ``test`` metrics, already on the 0-100 scale the paper's
tables print; medians and sample standard deviations come from ``tables.aggregate.collect``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lora_repro.learnability.cells import Plan, RowPlan
from lora_repro.learnability.spec import LearnSpec, LRow
from lora_repro.learnability.verdict import PASS, Values, Verdict, judge
from lora_repro.tables.aggregate import Entry, collect
from lora_repro.tables.render import Provenance, environment_lines, markdown_grid, write_atomic

# what each baseline is, for the header
BASELINE_TEXT = {
    "majority": "the most frequent class of the cells' training examples, predicted for every test input",
    "mean": "the mean score of the cells' training examples, predicted for every test input "
    "(the Pearson correlation of a constant is undefined: reported as 0)",
    "first_slot_value": "the value of the input's first slot (the restaurant's name)",
    "first_triple": "the input's first triple as text (underscores as spaces, placeholders such as "
    "[TABLECONTEXT] left out)",
    "select_first_column": "`SELECT <first column> FROM table`",
    "lead_1": "the dialogue's first utterance (lead-1)",
}
DIGITS = 1


@dataclass
class RowOutcome:
    """One reported row: the baseline's scores, the untrained and trained entries, the verdict."""

    row: LRow
    baseline: dict[str, float] | None
    untrained: dict[str, Entry]
    methods: dict[str, dict[str, Entry]]  # method name -> metric -> entry
    missing: list[str] = field(default_factory=list)  # "LoRA seed 2" ... cells not done
    verdict: Verdict | None = None


def _medians(entries: dict[str, Entry]) -> Values:
    return {k: e.value for k, e in entries.items()}


def outcome(plan: RowPlan, spec: LearnSpec, baseline: dict[str, float] | None) -> RowOutcome:
    """Aggregate one row's done cells and judge it."""
    trained = collect(plan.trained, plan.trained_grid.seeds, plan.trained_grid.run_dirs())
    untrained = collect(plan.untrained, plan.untrained_grid.seeds, plan.untrained_grid.run_dirs())[0]
    methods = {name: r.entries for (name, _), r in zip(spec.methods, trained, strict=True)}
    missing = [f"{r.row.label} {m}" for r in trained for m in r.missing]
    missing += [f"untrained {m}" for m in untrained.missing]
    out = RowOutcome(plan.row, baseline, untrained.entries, methods, missing)
    out.verdict = judge(
        plan.row,
        spec.labels,
        baseline,
        _medians(untrained.entries),
        {name: _medians(e) for name, e in methods.items()},
        spec.ceiling,
    )
    return out


def outcomes(plan: Plan, baseline_of: Callable[[RowPlan], dict[str, float] | None]) -> list[RowOutcome]:
    """Every row's outcome (``baseline_of``: the baseline's scores of a row)."""
    return [outcome(p, plan.spec, baseline_of(p)) for p in plan.rows]


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.{DIGITS}f}"


def entries_text(entries: dict[str, Entry], metrics: tuple[str, ...]) -> str:
    """``71.7±1.2 / 80.1±0.9 (3)``: medians ± sample std of each metric, then the seeds done."""
    parts = []
    for m in metrics:
        e = entries.get(m)
        if e is None or e.value is None:
            parts.append("—")
            continue
        parts.append(_num(e.value) + (f"±{_num(e.spread)}" if e.spread is not None else ""))
    first = entries.get(metrics[0])
    if first is None or first.n == 0:
        return " / ".join(parts) + (f" (0 of {first.expected})" if first is not None else "")
    count = f"{first.n}" if first.n >= first.expected else f"{first.n} of {first.expected}"
    return " / ".join(parts) + f" ({count})"


def baseline_text(out: RowOutcome) -> str:
    if out.baseline is None:
        return "—"
    return " / ".join(_num(out.baseline.get(m)) for m in out.row.metrics) + f" ({out.row.baseline})"


def ceiling_text(verdict: Verdict, ceiling: float) -> str:
    if verdict.best is None:
        return "—"
    col, metric, value = verdict.best
    mark = "ok" if verdict.ceiling_ok else "HIT"
    return f"{mark} (best: {col} {metric} {_num(value)}{' < ' if verdict.ceiling_ok else ' ≥ '}{ceiling:g})"


def header_lines(spec: LearnSpec, rows: list[RowOutcome], prov: Provenance) -> list[str]:
    """Provenance, what each column means, the bars' rule, the missing cells."""
    un = spec.untrained
    labels = ", ".join(label for _, label in spec.methods)
    kinds = list(dict.fromkeys(r.row.baseline for r in rows))
    missing = [f"{r.row.key}: {', '.join(r.missing)}" for r in rows if r.missing]
    lines = [
        f"Produced by `{prov.command}` (profile `{prov.profile}`, git commit {prov.commit}).",
        *environment_lines(prov.environments),
    ]
    if prov.compute_s:
        lines.append(f"Compute: {prov.compute_s / 60:.1f} min summed over the cells' own wall times.")
    lines += [
        "Every value is a test-role metric of the cell's result.json, on the 0-100 scale of the paper's "
        "tables; a row with two metrics shows `first / second` in the order of its metric column.",
        "**baseline**: trivial, computed from the task's own data and scored by the suite's metric on the "
        "same test inputs as the cells, not trained: "
        + "; ".join(f"`{k}` = {BASELINE_TEXT.get(k, k)}" for k in kinds)
        + ".",
        f"**untrained**: the cell with no training step (`method={un.method}` with "
        f"`{' '.join(un.overrides)}`): the pretrained model, with a freshly initialised task head on "
        f"the encoders; seed{'s' if len(un.seeds) > 1 else ''} {', '.join(map(str, un.seeds))} only, "
        "since the seed changes nothing but the head's initialisation.",
        f"**{labels}**: median over seeds {list(prov.seeds)} ± sample std, (n) = seeds done.",
        "**bar**: each named method's median must reach it on each named metric; **ceiling**: the best "
        f"value of the row (any column) must stay below {spec.ceiling:g}, so that methods can still "
        "differ. **verdict**: PASS when both hold, FAIL naming what does not, INCOMPLETE when a value "
        "is missing.",
        "Missing cells: " + ("; ".join(missing) if missing else "none") + ".",
    ]
    return lines


def table_rows(spec: LearnSpec, rows: list[RowOutcome]) -> list[list[str]]:
    head = ["task", "model", "metric", "baseline", "untrained", *[label for _, label in spec.methods]]
    out = [[*head, "bar", "ceiling", "verdict"]]
    for r in rows:
        assert r.verdict is not None
        out.append(
            [
                r.row.name,
                r.row.model,
                " / ".join(r.row.metrics),
                baseline_text(r),
                entries_text(r.untrained, r.row.metrics),
                *[entries_text(r.methods[name], r.row.metrics) for name, _ in spec.methods],
                r.row.bar.text(spec.labels),
                ceiling_text(r.verdict, spec.ceiling),
                r.verdict.text(),
            ]
        )
    return out


def to_markdown(spec: LearnSpec, rows: list[RowOutcome], prov: Provenance) -> str:
    """The report as GitHub Markdown with its provenance header."""
    lines = [f"# {spec.title}", ""]
    lines += [f"{line}  " for line in header_lines(spec, rows, prov)] + [""]
    lines += markdown_grid(table_rows(spec, rows))
    n_pass = sum(r.verdict is not None and r.verdict.status == PASS for r in rows)
    lines += ["", f"{n_pass} of {len(rows)} rows PASS."]
    return "\n".join(lines) + "\n"


CSV_FIELDS = [
    "row", "task", "model", "metric", "column", "value", "spread", "n_seeds", "n_expected", "seed_values",
    "bar", "verdict", "profile", "commit",
]  # fmt: skip


def _csv_num(v: float | None) -> str:
    return "" if v is None else f"{v:.6g}"


def to_csv(spec: LearnSpec, rows: list[RowOutcome], prov: Provenance) -> str:
    """One line per (row, metric, column): tidy data for plots and checks."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        assert r.verdict is not None
        common = {"row": r.row.key, "task": r.row.task, "model": r.row.model, "bar": r.row.bar.text(spec.labels),
                  "verdict": r.verdict.status, "profile": prov.profile, "commit": prov.commit}  # fmt: skip
        for metric in r.row.metrics:
            base = None if r.baseline is None else r.baseline.get(metric)
            writer.writerow({**common, "metric": metric, "column": "baseline", "value": _csv_num(base)})
            columns = [("untrained", r.untrained), *[(name, r.methods[name]) for name, _ in spec.methods]]
            for column, entries in columns:
                e = entries.get(metric)
                if e is None:
                    continue
                writer.writerow(
                    {
                        **common,
                        "metric": metric,
                        "column": column,
                        "value": _csv_num(e.value),
                        "spread": _csv_num(e.spread),
                        "n_seeds": e.n,
                        "n_expected": e.expected,
                        "seed_values": " ".join(_csv_num(v) for v in e.values),
                    }  # fmt: skip
                )
    return buf.getvalue()


def write_report(spec: LearnSpec, rows: list[RowOutcome], prov: Provenance, out_dir: Path) -> dict[str, Path]:
    """Write ``learnability.md`` and ``.csv`` under ``out_dir`` (atomically; unchanged files untouched)."""
    paths = {}
    for ext, fn in (("md", to_markdown), ("csv", to_csv)):
        paths[ext] = out_dir / f"learnability.{ext}"
        write_atomic(paths[ext], fn(spec, rows, prov))
    return paths


def summary_lines(rows: list[RowOutcome]) -> list[str]:
    """One line per row, then the count of PASS rows."""
    lines = [f"{r.verdict.status:<10} {r.row.key}: {r.verdict.text()}" for r in rows if r.verdict]
    n_pass = sum(r.verdict is not None and r.verdict.status == PASS for r in rows)
    lines.append(f"learnability: {n_pass} of {len(rows)} rows PASS")
    return lines
