"""lora_repro.tables.plot on a hand-made table CSV: what it reads, and that it draws a PNG."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lora_repro.tables.plot import is_result_table, main, plot_table, read_table

HEADER = [
    "table",
    "row",
    "column",
    "ours",
    "spread",
    "seed_values",
    "paper",
    "trainable_ours",
    "profile",
    "commit",
]
ROWS = [
    ["5", "M (LoRA)", "Acc", "70", "2", "68 70 72", "80", "100", "toy", "abc123"],
    ["5", "M (LoRA)", "F1", "", "", "", "60", "100", "toy", "abc123"],  # a missing cell
    ["5", "M (Adpt)", "Acc", "65", "1", "64 65", "79", "2000", "toy", "abc123"],
    ["5", "M (Adpt)", "Acc", "66", "0", "66", "", "5000", "toy", "abc123"],  # same label, other size
]


def _write(path: Path, header: list[str] = HEADER, rows: list[list[str]] = ROWS) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_read_table_keeps_rows_apart_by_size_and_reads_seeds(tmp_path):
    data = read_table(_write(tmp_path / "table5.csv"))
    assert data.table == "5" and data.profile == "toy" and data.commit == "abc123"
    assert data.rows == ["M (LoRA)", "M (Adpt) [2.0K]", "M (Adpt) [5.0K]"]
    assert data.columns == ["Acc", "F1"]
    lora = data.points[("M (LoRA)", "Acc")]
    assert (lora.ours, lora.spread, lora.seeds, lora.paper) == (70.0, 2.0, [68.0, 70.0, 72.0], 80.0)
    missing = data.points[("M (LoRA)", "F1")]
    assert missing.ours is None and missing.seeds == [] and missing.paper == 60.0
    assert data.points[("M (Adpt) [5.0K]", "Acc")].paper is None


def test_plot_table_writes_a_png_with_the_provenance(tmp_path):
    data = read_table(_write(tmp_path / "table5.csv"))
    out = plot_table(data, tmp_path / "sub" / "table5.png", provenance="made by a test at commit abc123")
    raw = out.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 5000
    assert b"made by a test at commit abc123" in raw  # PNG Description metadata
    assert [p.name for p in out.parent.iterdir()] == ["table5.png"]  # no temp file left


def test_the_command_writes_beside_the_csv(tmp_path, capsys):
    path = _write(tmp_path / "table5.csv")
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "table5.png")
    assert (tmp_path / "table5.png").stat().st_size > 5000


def test_an_hparams_audit_is_not_a_results_table(tmp_path):
    audit = _write(
        tmp_path / "table9.csv", ["table", "block", "item", "ours", "paper"], [["9", "b", "lr", "1", "2"]]
    )
    assert is_result_table(_write(tmp_path / "table5.csv")) and not is_result_table(audit)
    with pytest.raises(ValueError, match="not a results table"):
        read_table(audit)


def test_replotting_the_same_csv_leaves_the_png_untouched(tmp_path):
    data = read_table(_write(tmp_path / "table5.csv"))
    out = plot_table(data, tmp_path / "table5.png", provenance="p")
    before = out.stat().st_mtime_ns
    assert plot_table(data, out, provenance="p").stat().st_mtime_ns == before
    plot_table(data, out, provenance="another line")
    assert b"another line" in out.read_bytes()


RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_every_committed_results_table_has_its_plot_from_the_same_cells():
    tables = [p for p in sorted(RESULTS.glob("*/table*.csv")) if is_result_table(p)]
    assert tables, "no committed results table"
    for path in tables:
        png = path.with_suffix(".png")
        assert png.is_file(), (
            f"{png} missing: python -m lora_repro.tables.plot {path.relative_to(RESULTS.parent)}"
        )
        stamp = f"cells computed at commit {read_table(path).commit}".encode()
        assert stamp in png.read_bytes(), f"{png} is stale (drawn from other cells than {path.name})"
