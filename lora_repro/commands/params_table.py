"""``lora-repro params table=N``: our |Θ| beside the paper's printed # Trainable, for every row of a table.

Rows come from ``configs/table/table<N>.yaml`` (model, method and options, the paper's printed
count). Each model is built on the meta device, so the 175B rows take seconds and no network.
A row is marked ``DIFF`` when our count, rounded the way the paper printed its number (same unit,
same number of decimals), is not the printed number; docs/params.md explains each such row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lora_repro.config import load_group_file

TABLES = (2, 3, 4, 13, 14, 15)
UNITS = {"K": 1e3, "M": 1e6, "B": 1e9}


@dataclass(frozen=True)
class RowCount:
    """One table row: the paper's printed count and ours."""

    label: str
    model: str
    method: dict[str, Any]
    paper: str  # exactly as printed, e.g. "175,255.8M"
    adapter: int  # our |Θ| (without a new task head)
    head: int  # the new task head's parameters (trained, not counted by the paper)
    ours: str  # our |Θ| in the printed unit and precision
    status: str  # "ok" (rounds to the printed number), "ok-trunc" (truncates to it) or "DIFF"

    @property
    def matches(self) -> bool:
        return self.status != "DIFF"


def parse_printed(text: str) -> tuple[float, float, int]:
    """``"175,255.8M"`` -> (175255.8, 1e6, 1): value, unit, decimals."""
    m = re.fullmatch(r"\s*([\d,]+)(?:\.(\d+))?\s*([KMB])\s*", text)
    if not m:
        raise ValueError(f"cannot read the printed parameter count {text!r}; expected e.g. '0.35M', '175B'")
    whole, frac, unit = m.groups()
    frac = frac or ""
    return float(whole.replace(",", "") + ("." + frac if frac else "")), UNITS[unit], len(frac)


def format_like(count: int, printed: str) -> str:
    """``count`` written in the unit and precision of ``printed`` (``393216, "0.35M"`` -> ``"0.39M"``)."""
    _, unit, decimals = parse_printed(printed)
    suffix = next(k for k, v in UNITS.items() if v == unit)
    return f"{count / unit:,.{decimals}f}{suffix}"


def load_table(table: Any) -> dict[str, Any]:
    """The table spec ``configs/table/table<N>.yaml``; error naming the tables that have one."""
    try:
        number = int(table)
    except (TypeError, ValueError):
        number = None
    if number not in TABLES:
        raise ValueError(f"table={table!r} has no # Trainable column; allowed: {', '.join(map(str, TABLES))}")
    return load_group_file("table", f"table{number}")


def count_rows(table: Any) -> list[RowCount]:
    """Our |Θ| for every row of paper table ``table``."""
    from lora_repro.methods import apply_method, count_parameters  # noqa: PLC0415
    from lora_repro.models.build import build_model  # noqa: PLC0415

    spec = load_table(table)
    out = []
    for row in spec["rows"]:
        method = dict(row["method"])
        name = method.pop("name")
        model = apply_method(build_model(row["model"], device="meta"), name, **method)
        counts = count_parameters(model)
        printed = str(row["paper"]["trainable"])
        ours = format_like(counts["adapter"], printed)
        out.append(
            RowCount(
                row["label"],
                row["model"],
                row["method"],
                printed,
                counts["adapter"],
                counts["head"],
                ours,
                compare(counts["adapter"], printed),
            )
        )
    return out


def compare(count: int, printed: str) -> str:
    """``"ok"`` if ``count`` rounds to the printed number, ``"ok-trunc"`` if the printed number is
    ``count`` truncated (the paper truncates some counts: 18,874,368 -> "18.8M"), else ``"DIFF"``."""
    value, unit, decimals = parse_printed(printed)
    scale = 10**decimals
    printed_units = round(value * scale)  # the printed number in its last digit's units
    exact = count * scale / unit
    if round(exact) == printed_units:
        return "ok"
    if math.floor(exact) == printed_units:
        return "ok-trunc"
    return "DIFF"


def _method_text(method: dict[str, Any]) -> str:
    opts = [
        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in method.items() if k != "name"
    ]
    return " ".join([method["name"], *opts])


def print_table(table: Any) -> int:
    """Print the comparison for ``table``; always exit 0 (differences are documented, not errors)."""
    spec = load_table(table)
    rows = count_rows(table)
    header = ("row", "model", "method", "ours |Θ|", "ours", "paper", "")
    lines = [
        (r.label, r.model, _method_text(r.method), f"{r.adapter:,}", r.ours, r.paper, r.status) for r in rows
    ]
    widths = [max(len(x[i]) for x in [header, *lines]) for i in range(len(header))]
    print(f"Table {spec['table']}: {spec['title']} -- # Trainable, ours vs the paper's")
    for cells in [header, *lines]:
        print(
            "  ".join(
                c.rjust(w) if i in (3, 4, 5) else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    n_diff = sum(not r.matches for r in rows)
    n_trunc = sum(r.status == "ok-trunc" for r in rows)
    print(
        f"{len(rows)} rows: {len(rows) - n_diff} match the printed count ({n_trunc} of them only if the paper "
        f"truncated), {n_diff} differ by more than rounding (DIFF); docs/params.md explains each"
    )
    return 0
