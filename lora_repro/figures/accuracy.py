"""Figure 2: validation accuracy against log10 |Θ| for every method row of Table 15, from its cells.

The cells are Table 15's own (``configs/table/table15.yaml``, expanded by the grid exactly as
``lora-repro table 15`` does); this figure never runs them: when some are missing it says which and
the command that runs them. Accuracy is each column's metric exactly as Table 15 reports it: the
task's test role, which for WikiSQL and MNLI is the hub's validation split (validation_matched), the
paper's Figure 2 being Table 15's validation numbers plotted. (The cell's own ``validation`` role is
the subset that picks the best epoch; it holds no logical-form accuracy for WikiSQL, which generates
only on the test role.) |Θ| is the run's ``params.adapter``; the paper's points use its printed
"# Trainable Parameters".
"""

from __future__ import annotations

from typing import Any

from lora_repro.grid.cells import Grid
from lora_repro.grid.profile_spec import skip_notes
from lora_repro.tables.aggregate import collect
from lora_repro.tables.spec import TableSpec

SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9}


def parse_count(text: str | None) -> float | None:
    """``"0.4M"`` -> 400000.0, ``"175B"`` -> 1.75e11; None for a blank or unreadable count."""
    if not text:
        return None
    t = str(text).strip().replace(",", "")
    scale = SUFFIX.get(t[-1:].upper(), 1.0)
    try:
        return float(t[:-1] if t[-1:].upper() in SUFFIX else t) * scale
    except ValueError:
        return None


def accuracy_points(grid: Grid) -> list[dict[str, Any]]:
    """One point per (row, column) of the table: ours (the column's own role, as the table reports
    it, and |Θ|) and the paper's."""
    results = collect(grid.spec, grid.seeds, grid.run_dirs(), {c.run_dir: c.id for c in grid.cells})
    points = []
    for res in results:
        for col in grid.spec.columns:
            entry = res.entries.get(col.key)
            if col.task is None or entry is None:
                continue
            points.append({
                "row": res.row.label, "method": res.row.method_name, "task": col.key,
                "ours_trainable": res.trainable, "ours_value": entry.value,
                "paper_trainable": parse_count(res.row.paper_trainable), "paper_value": entry.paper,
            })  # fmt: skip
    return points


def skipped_rows_note(table: str, spec: TableSpec, profile: str) -> str | None:
    """The caption line naming the rows of ``spec`` (the full table) that ``profile`` skips
    (:func:`lora_repro.grid.profile_spec.skip_notes`), or None when it runs them all."""
    notes = skip_notes(spec, profile)
    if not notes:
        return None
    return f"Not in this profile's Table {table}: " + "; ".join(notes) + "."


def task_columns(grid: Grid) -> list[tuple[str, str]]:
    """(column key, label) of the table's metric columns, in order."""
    return [(c.key, c.label) for c in grid.spec.columns if c.task is not None]
