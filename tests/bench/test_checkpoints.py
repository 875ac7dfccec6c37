"""`lora-repro bench checkpoints`: the sizes on disk of each cell's adapter and of its full model."""

from __future__ import annotations

import csv

from lora_repro.cli import main as cli


def _rows(path):
    return list(csv.DictReader(x for x in path.read_text().splitlines() if not x.startswith("#")))


def test_table18_sizes_follow_from_the_shapes(tmp_path):
    assert cli(["bench", "checkpoints", "tables=18", f"out={tmp_path}"]) == 0
    rows = {r["row"]: r for r in _rows(tmp_path / "checkpoints.csv")}
    assert set(rows) == {f"LoRA r={r}" for r in (1, 2, 4, 8, 16, 32, 64)}  # r > 64 skipped at width 64
    # tiny GPT-2 M: width 64, 4 blocks; LoRA on W_q and W_v: A (r x 64) and B (64 x r) each, per block
    for r in (1, 4, 64):
        row = rows[f"LoRA r={r}"]
        n = 4 * 2 * (64 * r + r * 64)
        assert int(row["trainable"]) == n
        # fp32 weights plus the safetensors header and adapter_config.json (a few KiB)
        assert 4 * n < int(row["adapter_bytes"]) < 4 * n + 16_384
    fulls = {int(r["full_bytes"]) for r in rows.values()}
    assert len(fulls) == 1  # the full model does not depend on r
    from transformers import GPT2Config, GPT2LMHeadModel

    from lora_repro.tiny.tokenizer import tiny_tokenizer

    tok = tiny_tokenizer()
    base = GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=4, n_head=4, n_positions=256, vocab_size=len(tok)))
    weights = 4 * sum(p.numel() for p in base.parameters())  # tied embedding counted once
    assert weights < fulls.pop() < weights + 65_536
    md = (tmp_path / "checkpoints.md").read_text()
    assert "Produced by `lora-repro bench checkpoints tables=18" in md and "## Table 18" in md


def test_a_method_that_trains_nothing_has_no_adapter(tmp_path):
    assert cli(["bench", "checkpoints", "tables=8", f"out={tmp_path}"]) == 0
    rows = _rows(tmp_path / "checkpoints.csv")
    few = [r for r in rows if r["method"] == "fewshot"]
    ft = [r for r in rows if r["method"] == "ft"]
    assert few and ft
    assert all(r["trainable"] == "0" and r["adapter_bytes"] == "" for r in few)
    # FT trains every weight: its "adapter" is the whole model
    assert all(int(r["trainable"]) > 0 and int(r["adapter_bytes"]) >= int(r["full_bytes"]) for r in ft)
    assert "trains nothing" in (tmp_path / "checkpoints.md").read_text()


def test_the_paper_profile_is_refused_in_one_line(capsys):
    assert cli(["bench", "checkpoints", "profile=paper"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert any("profile='paper'" in line and "allowed: tiny" in line for line in err)
