"""Render a table from hand-written result.json files: medians, means, seed counts, missing marks."""

import csv
import io
import json
from pathlib import Path

import pytest

from lora_repro.grid.cells import expand, overrides_hash
from lora_repro.tables.aggregate import collect, format_count
from lora_repro.tables.render import Provenance, tex_escape, to_csv, to_latex, to_markdown, write_table
from lora_repro.tables.spec import parse_spec


def resolver(overrides):
    return overrides_hash(overrides), {}


def spec_dict(aggregate):
    return {
        "table": 99,
        "title": "Test table",
        "aggregate": aggregate,
        "seeds": [1, 2, 3],
        "columns": [
            {"key": "ACC", "task": "sst2", "metric": "accuracy", "label": "SST-2", "scale": 100},
            {"key": "BLEU", "task": "e2e", "metric": "BLEU", "label": "BLEU"},
            {"key": "NIST", "task": "e2e", "metric": "NIST", "label": "NIST"},
            {"key": "Avg", "average_of": ["ACC", "BLEU"], "label": "Avg"},
        ],
        "rows": [
            {"label": "M (FT)", "model": "gpt2-medium", "method": {"name": "finetune"}, "cited": True,
             "paper": {"trainable": "354.92M", "values": {"ACC": 90.0, "BLEU": 68.2, "NIST": 8.6, "Avg": 79.1}}},
            {"label": "M (LoRA)", "model": "gpt2-medium", "method": {"name": "lora", "r": 4}, "dagger": True,
             "paper": {"trainable": "0.35M", "values": {"ACC": 91.0, "BLEU": 70.4, "NIST": 8.85},
                       "spread": {"BLEU": 0.1}}},
        ],
    }  # fmt: skip


def write_result(run_dir: Path, test: dict, adapter: int) -> None:
    run_dir.mkdir(parents=True)
    result = {"params": {"adapter": adapter, "head": 0, "trainable": adapter, "total": 10**6}, "test": test,
              "wall_time_s": 30.0}  # fmt: skip
    (run_dir / "result.json").write_text(json.dumps(result))
    (run_dir / "DONE").write_text("")


# (row, task, seed) -> test metrics; the LoRA row lacks sst2 seed 3 and e2e seed 2
RESULTS = {
    (0, "sst2", 1): {"accuracy": 0.80}, (0, "sst2", 2): {"accuracy": 0.90}, (0, "sst2", 3): {"accuracy": 0.86},
    (0, "e2e", 1): {"BLEU": 60.0, "NIST": 7.0}, (0, "e2e", 2): {"BLEU": 62.0, "NIST": 7.5},
    (0, "e2e", 3): {"BLEU": 70.0, "NIST": 8.5},
    (1, "sst2", 1): {"accuracy": 0.70}, (1, "sst2", 2): {"accuracy": 0.74},
    (1, "e2e", 1): {"BLEU": 50.0, "NIST": 6.0}, (1, "e2e", 3): {"BLEU": 54.0, "NIST": 6.4},
}  # fmt: skip


def build(tmp_path, aggregate):
    spec = parse_spec(spec_dict(aggregate))
    grid = expand(spec, profile="tiny", resolver=resolver, runs_root=tmp_path / "runs")
    for (row, task, seed), test in RESULTS.items():
        write_result(
            grid.cell(grid.slots[(row, task, seed)]).run_dir, test, adapter=393216 if row else 354_920_000
        )
    return spec, grid, collect(grid.spec, grid.seeds, grid.run_dirs())


PROV = Provenance(command="lora-repro table 99", profile="tiny", commit="abc123", seeds=(1, 2, 3))


def test_median_and_seed_counts(tmp_path):
    spec, grid, rows = build(tmp_path, "median")
    ft, lora = rows[0].entries, rows[1].entries
    assert ft["ACC"].value == pytest.approx(86.0)  # median of 80, 90, 86
    assert ft["BLEU"].value == pytest.approx(62.0) and ft["NIST"].value == pytest.approx(7.5)
    assert ft["ACC"].n == 3 and ft["ACC"].complete
    assert lora["ACC"].value == pytest.approx(72.0) and lora["ACC"].n == 2 and not lora["ACC"].complete
    assert lora["BLEU"].value == pytest.approx(52.0)  # median of two = their mean
    assert ft["Avg"].value == pytest.approx((86.0 + 62.0) / 2)
    assert rows[1].missing == ["sst2 seed 3", "e2e seed 2"] and rows[0].missing == []
    assert ft["BLEU"].diff == pytest.approx(62.0 - 68.2)


def test_mean_and_spread(tmp_path):
    _, _, rows = build(tmp_path, "mean")
    ft = rows[0].entries
    assert ft["BLEU"].value == pytest.approx(64.0)  # mean of 60, 62, 70
    assert ft["BLEU"].spread == pytest.approx(5.2915026, rel=1e-6)  # sample std
    assert ft["ACC"].value == pytest.approx(85.333333, rel=1e-6)


def test_markdown_marks_and_paper_column(tmp_path):
    spec, _, rows = build(tmp_path, "mean")
    md = to_markdown(spec, rows, PROV)
    assert "`lora-repro table 99`" in md and "profile `tiny`" in md and "abc123" in md
    assert "| M (FT)* | ours | 354.92M |" in md
    assert "| M (LoRA)† | ours | 0.39M |" in md
    assert "|  | paper | 0.35M |" in md and "70.4±0.1" in md
    assert "64.0±5.3 (3)" in md  # BLEU mean, paper prints 1 decimal
    assert "72.0±2.8 (2/3 missing)" in md
    assert "Missing cells: M (LoRA)†: sst2 seed 3, e2e seed 2." in md
    assert "-4.2" in md  # FT BLEU 64.0 - 68.2
    assert "| 90.0 | 68.2 | 8.60 |" in md  # paper numbers printed with their column's decimals


def test_csv_and_latex(tmp_path):
    spec, _, rows = build(tmp_path, "median")
    lines = list(csv.DictReader(io.StringIO(to_csv(spec, rows, PROV))))
    assert len(lines) == 2 * 4
    bleu = next(r for r in lines if r["row"] == "M (LoRA)" and r["column"] == "BLEU")
    assert (bleu["ours"], bleu["n_seeds"], bleu["n_expected"], bleu["paper"]) == ("52", "2", "3", "70.4")
    assert bleu["seed_values"] == "50 54" and bleu["dagger"] == "1" and bleu["trainable_ours"] == "393216"
    tex = to_latex(spec, rows, PROV)
    assert r"M (LoRA)$^\dagger$ & ours" in tex and r"\toprule" in tex and "% Missing cells" in tex
    assert tex_escape("GPT-2 M (Adapter^L)* 5% a_b") == r"GPT-2 M (Adapter$^{L}$)* 5\% a\_b"


def test_write_table_is_idempotent(tmp_path):
    spec, _, rows = build(tmp_path, "mean")
    paths = write_table(spec, rows, PROV, tmp_path / "results")
    assert sorted(p.name for p in paths.values()) == ["table99.csv", "table99.md", "table99.tex"]
    mtimes = {p: p.stat().st_mtime_ns for p in paths.values()}
    write_table(spec, rows, PROV, tmp_path / "results")
    assert {p: p.stat().st_mtime_ns for p in paths.values()} == mtimes
    assert not list((tmp_path / "results").glob(".*tmp"))


def test_nothing_ran_marks_everything_missing(tmp_path):
    spec = parse_spec(spec_dict("median"))
    grid = expand(spec, resolver=resolver, runs_root=tmp_path / "runs")
    rows = collect(grid.spec, grid.seeds, grid.run_dirs())
    md = to_markdown(spec, rows, PROV)
    assert rows[0].trainable is None and rows[0].entries["BLEU"].value is None
    assert "sst2 seed 1, sst2 seed 2, sst2 seed 3, e2e seed 1" in md


@pytest.mark.parametrize(
    ("n", "like", "text"),
    [(393216, "0.35M", "0.39M"), (354_920_000, "354.92M", "354.92M"), (125_000_000, "125.0M", "125.0M"),
     (175_255_800_000, "175,255.8M", "175,255.8M"), (11_090_000, "11M", "11M"), (4096, "0.35M", "4.1K"), (12_345, "0.88M", "12.3K"), (116_096, "11.09M", "0.12M"),
     (300, None, "300")],
)  # fmt: skip
def test_format_count(n, like, text):
    assert format_count(n, like) == text


def test_bad_spec_names_the_value():
    bad = spec_dict("mode")
    with pytest.raises(ValueError, match="aggregate 'mode' not allowed; allowed: \\['mean', 'median'\\]"):
        parse_spec(bad)
    bad = spec_dict("mean")
    bad["columns"][3]["average_of"] = ["XYZ"]
    with pytest.raises(ValueError, match="unknown columns \\['XYZ'\\]"):
        parse_spec(bad)


def test_paper_avg_adds_a_computed_avg_column(tmp_path):
    raw = spec_dict("median")
    raw["columns"] = raw["columns"][:3]
    raw["rows"][0]["paper"]["avg"] = 77.7
    spec = parse_spec(raw)
    assert spec.columns[-1].key == "Avg" and spec.columns[-1].average_of == ("ACC", "BLEU", "NIST")
    grid = expand(spec, resolver=resolver, runs_root=tmp_path / "runs")
    for (row, task, seed), test in RESULTS.items():
        write_result(grid.cell(grid.slots[(row, task, seed)]).run_dir, test, adapter=1)
    ft = collect(grid.spec, grid.seeds, grid.run_dirs())[0].entries["Avg"]
    assert ft.value == pytest.approx((86.0 + 62.0 + 7.5) / 3) and ft.paper == 77.7


def test_nan_metric_counts_as_missing_with_a_note(tmp_path):
    spec = parse_spec(spec_dict("mean"))
    grid = expand(spec, resolver=resolver, runs_root=tmp_path / "runs")
    for seed in (1, 2, 3):
        write_result(grid.cell(grid.slots[(0, "e2e", seed)]).run_dir, {"BLEU": float("nan"), "NIST": 8.0}, 1)
    entries = collect(grid.spec, grid.seeds, grid.run_dirs())[0].entries
    assert entries["BLEU"].value is None and entries["BLEU"].note == "no test.BLEU in result.json"
    assert entries["NIST"].value == 8.0 and entries["NIST"].n == 3
    assert "— (no test.BLEU in result.json)" in to_markdown(
        spec, collect(grid.spec, grid.seeds, grid.run_dirs()), PROV
    )
