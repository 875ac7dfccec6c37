"""`lora-repro bench peft`: both sides compute the same function, and the command writes its files."""

from __future__ import annotations

import csv

import pytest
import torch

from lora_repro.bench import peft_compare
from lora_repro.cli import main as cli


@pytest.mark.parametrize("name", ["roberta-base", "opt-125m"])
def test_ours_and_peft_compute_the_same_function_with_a_live_low_rank_path(name):
    models = peft_compare.pair(name, layers=1, device="cpu", width=64)
    data = peft_compare.batch(models["ours"], name, "cpu")
    base = peft_compare.base_model(name, layers=1, width=64).eval()
    with torch.no_grad():
        out = {k: m.eval()(input_ids=data["input_ids"]).logits for k, m in models.items()}
        plain = base(input_ids=data["input_ids"]).logits
    torch.testing.assert_close(out["ours"], out["peft"], atol=1e-5, rtol=1e-5)
    assert (out["ours"] - plain).abs().max() > 1e-4  # B is not zero: the adapter changes the output
    # what trains: A and B of W_q, W_v in each of the 1 block(s) (2 x (64*8 + 8*64)), plus RoBERTa's head
    head = (64 * 64 + 64) + (3 * 64 + 3) if name == "roberta-base" else 0
    expected = 2 * (64 * 8 + 8 * 64) + head
    counts = {k: sum(p.numel() for p in m.parameters() if p.requires_grad) for k, m in models.items()}
    assert counts == {"ours": expected, "peft": expected}


def test_a_training_step_changes_the_same_parameters_the_same_way():
    name = "opt-125m"
    models = peft_compare.pair(name, layers=1, device="cpu", width=64)
    data = peft_compare.batch(models["ours"], name, "cpu")
    grads = {}
    for k, m in models.items():
        m.train()
        m(**data).loss.backward()
        grads[k] = {n.removeprefix("base_model.model.").replace(".default.weight", ""): p.grad
                    for n, p in m.named_parameters() if p.requires_grad}  # fmt: skip
    assert grads["ours"].keys() == grads["peft"].keys() and len(grads["ours"]) == 4
    for key, g in grads["ours"].items():
        torch.testing.assert_close(g, grads["peft"][key], atol=1e-5, rtol=1e-4)


def test_the_command_writes_markdown_and_csv(tmp_path):
    argv = ["bench", "peft", "device=cpu", "width=64", "layers=1", "trials=2", "warmup=0", f"out={tmp_path}"]
    assert cli(argv) == 0
    md = (tmp_path / "peft.md").read_text()
    assert "Produced by `lora-repro bench peft" in md and "Device:" in md and "PEFT's version" in md
    lines = [x for x in (tmp_path / "peft.csv").read_text().splitlines() if not x.startswith("#")]
    got = list(csv.DictReader(lines))
    assert {(r["model"], r["measure"]) for r in got} == {
        (m, w) for m in ("roberta-base", "opt-125m") for w in ("train step", "forward (unmerged)")
    }
    assert all(float(r["ours_ms"]) > 0 and float(r["peft_ms"]) > 0 for r in got)


def test_an_unknown_model_is_one_line(capsys):
    assert cli(["bench", "peft", "device=cpu", "models=gpt-9"]) != 0
    err = capsys.readouterr().err
    assert "gpt-9" in err and "roberta-base" in err and "opt-125m" in err
