"""Table 18 (the effect of r on GPT-2 M, E2E): its cells in both profiles, the rank rule, the columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from lora_repro import rundir
from lora_repro.grid import cli as grid_cli
from lora_repro.grid.cells import overrides_hash
from lora_repro.grid.profile_spec import for_profile, model_width
from lora_repro.tables.spec import load_spec, parse_spec

RANKS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def resolver(overrides):
    return overrides_hash(overrides), {}


def grid(profile: str, runs: Path):
    own = {**grid_cli.OWN, "profile": profile, "runs": str(runs)}
    return grid_cli.build_grid("18", own, [], resolver=resolver)


def given(cell) -> dict[str, str]:
    return dict(o.split("=", 1) for o in cell.overrides)


def test_paper_profile_has_every_rank_at_26000_steps(tmp_path):
    g = grid("paper", tmp_path)
    assert len(g.cells) == 11
    assert [int(given(c)["method.r"]) for c in g.cells] == RANKS
    for cell in g.cells:
        o = given(cell)
        assert (cell.model, cell.task, cell.method, cell.seed) == ("gpt2-medium", "e2e", "lora", 1)
        assert o["train.max_steps"] == "26000" and o["profile"] == "paper"
        assert (o["method.alpha"], o["method.dropout"], o["method.targets"]) == ("32", "0.1", "[q,v]")
    assert "skipped" not in g.spec.title


def test_tiny_profile_skips_ranks_above_the_tiny_width_and_says_so(tmp_path):
    assert model_width("gpt2-medium", "tiny") == 64  # configs/model/gpt2-medium.yaml tiny.hf_config
    assert model_width("gpt2-medium", "paper") == 1024
    g = grid("tiny", tmp_path)
    assert [int(given(c)["method.r"]) for c in g.cells] == [1, 2, 4, 8, 16, 32, 64]
    assert {given(c)["train.max_steps"] for c in g.cells} == {"188"}
    assert g.spec.title.endswith("[r=128..1024 skipped: tiny width 64]")
    assert [r.label for r in g.spec.rows] == [f"LoRA r={r}" for r in RANKS[:7]]


def test_the_cells_resolve_with_max_steps_and_the_e2e_lora_hparams():
    from lora_repro.train.cell import cell_config

    spec = for_profile(load_spec("18"), "paper")
    row = spec.rows[3]  # r=8
    from lora_repro.grid.cells import cell_overrides

    cfg = cell_config(cell_overrides(spec, row, "e2e", 1, "paper", Path("runs")))
    assert cfg.train.max_steps == 26000 and cfg.method.r == 8 and cfg.method.alpha == 32
    # configs/hparams/gpt2-medium/e2e/lora.yaml (Table 11) otherwise
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.warmup_steps, cfg.train.label_smoothing) == (
        0.0002,
        8,
        500,
        0.1,
    )


def test_a_capped_rank_limit_and_bad_profile_blocks(tmp_path):
    raw = {
        "table": 97, "title": "t", "columns": [{"key": "BLEU", "task": "e2e"}],
        "rows": [{"label": f"r{r}", "model": "gpt2-medium", "method": {"name": "lora", "r": r}} for r in (2, 8, 32)],
        "profiles": {"tiny": {"max_rank": 8, "overrides": ["train.max_steps=5"]}, "paper": {"bogus": 1}},
    }  # fmt: skip
    import yaml

    path = tmp_path / "table97.yaml"
    path.write_text(yaml.safe_dump(raw))
    spec = parse_spec(raw, path)
    tiny = for_profile(spec, "tiny")
    assert [r.label for r in tiny.rows] == ["r2", "r8"] and tiny.title == "t [r=32 skipped: above max_rank 8]"
    assert tiny.overrides == ("train.max_steps=5",)
    with pytest.raises(ValueError, match=r"profiles.paper: unknown keys \['bogus'\]"):
        for_profile(spec, "paper")


def _result(val_loss: float, bleu: float) -> dict:
    return {
        "config_hash": None, "params": {"adapter": 512},
        "validation": {"loss": val_loss, "BLEU": 99.0},  # validation BLEU must not be read
        "test": {"BLEU": bleu, "NIST": 3.5, "METEOR": 25.0, "ROUGE_L": 50.0, "CIDEr": 0.5, "loss": 9.9},
        "wall_time_s": 30.0,
    }  # fmt: skip


def test_validation_loss_column_reads_result_json(tmp_path):
    from lora_repro.tables.aggregate import collect
    from lora_repro.tables.render import Provenance, to_csv, to_markdown

    g = grid("tiny", tmp_path / "runs")
    for i, cell in enumerate(g.cells[:2]):  # r=1 and r=2 done, the rest missing
        cell.run_dir.mkdir(parents=True)
        rundir.write_result(cell.run_dir, _result(1.5 - 0.25 * i, 30.0 + i))
    results = collect(g.spec, g.seeds, g.run_dirs())
    first, second, third = results[0].entries, results[1].entries, results[2].entries
    assert first["val_loss"].value == 1.5 and second["val_loss"].value == 1.25
    assert first["val_loss"].paper == 1.23 and first["BLEU"].value == 30.0 and second["BLEU"].value == 31.0
    assert first["METEOR"].value == pytest.approx(0.25) and first["METEOR"].paper == 0.4565  # as printed
    assert third["val_loss"].value is None and results[2].missing == ["e2e seed 1"]
    md = to_markdown(g.spec, results, Provenance("lora-repro table 18", "tiny", "c0ffee", (1,)))
    assert "# Table 18: " in md and "[r=128..1024 skipped: tiny width 64]" in md
    assert "| val loss | BLEU |" in md and "| LoRA r=64 | ours |" in md and "LoRA r=128" not in md
    csv = to_csv(g.spec, results, Provenance("x", "tiny", "c0ffee", (1,)))
    assert "LoRA r=2,gpt2-medium,lora,0,0,val_loss,e2e,loss,1.25," in csv
