"""`lora-repro bench <name>` writes its files (tiny sizes: width 64, one layer, one or two trials)."""

from __future__ import annotations

import csv

import pytest

from lora_repro.cli import main as cli

TINY = ["device=cpu", "width=64", "layers=1"]


def rows(path):
    return list(csv.DictReader(line for line in path.read_text().splitlines() if not line.startswith("#")))


def test_table1_writes_markdown_and_csv_with_the_papers_numbers(tmp_path):
    assert cli(["bench", "table1", *TINY, "trials=2", "warmup=0", "sweep=none", f"out={tmp_path}"]) == 0
    md = (tmp_path / "table1.md").read_text()
    assert "Produced by `lora-repro bench table1" in md and "Device:" in md and "Load average" in md
    for printed in ("1449.4±0.8", "1482.0±1.0 ms (+2.2%)", "25.8±2.2 ms (+30.3%)", "**1 of 24 layers**"):
        assert printed in md
    got = rows(tmp_path / "table1.csv")
    points = {(int(r["batch_size"]), int(r["seq_len"])) for r in got}
    assert points == {(32, 512), (16, 256), (1, 128)}
    assert {r["variant"] for r in got if r["batch_size"] == "32"} == {
        "FT", "LoRA merged", "LoRA unmerged 0.5M", "Adapter^L 0.5M", "Adapter^H 0.5M"
    }  # fmt: skip
    assert not (tmp_path / "figure5.csv").exists()


def test_figure5_draws_png_and_pdf(tmp_path):
    from lora_repro.bench.figure import figure5
    from lora_repro.bench.report import Provenance

    data = [{"batch_size": bs, "seq_len": seq, "variant": f"{m} {b}", "method": m, "budget": b,
             "pct_over_ft": 1.0 * bs} for bs in (1, 4) for seq in (128, 256) for b in ("0.5M", "11M")
            for m in ("Adapter^L", "Adapter^H")]  # fmt: skip
    files = figure5(data, tmp_path, {"budgets": ["0.5M", "11M"], "layers": 1, "trials": 1, "device": "cpu"},
                    Provenance("test"))  # fmt: skip
    assert sorted(files) == ["figure5.csv", "figure5.pdf", "figure5.png"]
    assert (tmp_path / "figure5.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figure5.pdf").read_bytes()[:4] == b"%PDF"


def test_train_cost_writes_its_files(tmp_path):
    args = ["bench", "train-cost", *TINY, "steps=1", "warmup=0", "memory=false", f"out={tmp_path}"]
    assert cli([*args, "models=gpt2-medium"]) == 0
    got = rows(tmp_path / "train-cost.csv")
    assert {r["variant"]: int(r["trainable"]) for r in got}["floor"] == 1
    assert "tokens/s" in (tmp_path / "train-cost.md").read_text()


def test_train_cost_memory_worker_reports_the_variants_memory():
    from lora_repro.bench.train_cost import memory_worker

    got = memory_worker({"model": "roberta-base", "variant": "floor", "layers": 1, "device": "cpu", "steps": 1,
                         "width": 64})  # fmt: skip
    assert got["trainable"] == 1 and got["peak_mb"] >= got["loaded_mb"] > 0


def test_switch_writes_its_files(tmp_path):
    assert cli(["bench", "switch", *TINY, "trials=1", "warmup=0", f"out={tmp_path}"]) == 0
    got = rows(tmp_path / "switch.csv")[0]
    assert int(got["full_bytes"]) > 100 * int(got["adapter_bytes"]) > 0
    assert "target at most 1/50" in (tmp_path / "switch.md").read_text()


def test_gpt3_memory_writes_its_files(tmp_path, monkeypatch):
    from lora_repro.bench import memory

    monkeypatch.setattr(
        memory, "gpt3_counts", lambda: memory.Counts(174_604_259_328, 174_604_259_328, 18_874_368)
    )
    assert cli(["bench", "gpt3-memory", "device=cpu", f"out={tmp_path}"]) == 0
    md = (tmp_path / "gpt3-memory.md").read_text()
    assert "| training VRAM, FT | 1.2TB | 1.40 TB = 1.27 TiB |" in md and "NO" not in md.split("Every")[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "nope"], "unknown bench 'nope'; allowed: table1"),
        (["bench", "table1", "device=cpu", "sweep=huge"], "sweep='huge'; allowed: none, short, full"),
        (["bench", "table1", "device=cpu", "budgets=3M"], "allowed: 0.5M, 11M"),
        (["bench", "switch", "device=cpu", "colour=red"], "unknown argument(s) ['colour=red']"),
        (["bench", "gpt3-memory", "precision=int4"], "precision='int4'; allowed"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, capsys):
    assert cli(argv) == 2
    assert message in capsys.readouterr().err


def test_bench_lists_its_names(capsys):
    assert cli(["bench"]) == 0
    out = capsys.readouterr().out
    assert all(
        name in out for name in ("table1", "figure5", "train-cost", "gpt3-memory", "switch", "gpu-check")
    )
