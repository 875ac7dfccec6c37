"""Table 7 written as ``results/<profile>/table7.{md,csv}``, our numbers with the paper's beside.

The paper's numbers are data in ``configs/figure/table7.yaml`` (``paper.columns``, keyed like its
cells). Below the table, the paper's two Section 7.3 statements judged on our numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic
from lora_repro.figures.draw import write_csv
from lora_repro.figures.spec import FigureSpec

QUANTITIES = (
    ("proj_delta", "‖Uᵀ W_q Vᵀ‖_F, U, V of ΔW_q"),
    ("proj_w", "‖Uᵀ W_q Vᵀ‖_F, U, V of W_q"),
    ("proj_random", "‖Uᵀ W_q Vᵀ‖_F, U, V of a random matrix"),
    ("w_norm", "‖W_q‖_F"),
    ("delta_norm", "‖ΔW_q‖_F"),
    ("amplification", "amplification ‖ΔW_q‖_F / ‖Uᵀ W_q Vᵀ‖_F (ΔW_q)"),
)


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f}"
    return str(value)


def claims(numbers: Sequence[dict[str, Any]]) -> list[str]:
    """Section 7.3's statements, judged on our numbers (one line each, per column)."""
    out = []
    for n in numbers:
        tag = f"r={n['r']}, layer {n['layer']}"
        corr = n["proj_random"] < n["proj_delta"] < n["proj_w"]
        out.append(
            f"- {tag}: ΔW_q correlates with W_q more than a random matrix does, but does not repeat W_q's "
            f"top directions (random {n['proj_random']:.2f} < ΔW_q {n['proj_delta']:.2f} < W_q "
            f"{n['proj_w']:.2f}): {'holds' if corr else 'does not hold'}"
        )
        amp = n["amplification"]
        out.append(
            f"- {tag}: ΔW_q amplifies directions W_q does not emphasise (amplification ≫ 1, the paper: "
            f"21.5 at r=4): {amp:.2f}, {'holds' if amp > 2 else 'does not hold'} (judged as > 2)"
        )
    return out


def render(spec: FigureSpec, numbers: Sequence[dict[str, Any]], header: Sequence[str]) -> tuple[str, list]:
    """(Markdown text, CSV rows) of Table 7."""
    paper = (spec.paper or {}).get("columns") or {}
    heads = [f"r={n['r']} ({n['cell']}, layer {n['layer']}, d={n['d']})" for n in numbers]
    lines = [f"# Table 7: {spec.title}", "", *[f"<!-- {h} -->" for h in header], ""]
    lines += ["| quantity | " + " | ".join(f"{h} ours | paper" for h in heads) + " |"]
    lines += ["|---|" + "---|---|" * len(numbers)]
    rows = []
    for key, label in QUANTITIES:
        cells = []
        for n in numbers:
            theirs = (paper.get(n["cell"]) or {}).get(key)
            cells += [_fmt(n[key]), _fmt(theirs)]
            rows.append({"cell": n["cell"], "r": n["r"], "layer": n["layer"], "d": n["d"], "quantity": key,
                         "ours": round(float(n[key]), 6), "paper": "" if theirs is None else theirs})  # fmt: skip
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    layer = (spec.paper or {}).get("layer")
    lines += ["", f"The paper's numbers: GPT-3 175B, layer {layer} of 96, d = 12288." if layer else ""]
    lines += ["", "## Section 7.3 on our numbers", "", *claims(numbers), ""]
    if spec.caption:
        lines += [spec.caption, ""]
    return "\n".join(lines), rows


def write_table7(
    spec: FigureSpec, numbers: Sequence[dict[str, Any]], out: Path, header: Sequence[str]
) -> list[Path]:
    """``out/table7.md`` and ``out/table7.csv``."""
    text, rows = render(spec, numbers, header)
    md = out / "table7.md"
    write_atomic(md, text)
    return [md, write_csv(out / "table7.csv", rows, header)]
