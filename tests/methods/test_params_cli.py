"""`lora-repro params`: the paper's |Θ| from dimensions alone, offline, exact to the parameter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lora_repro.cli import main
from lora_repro.commands.params import count_for

LORA = {"name": "lora", "alpha": 8, "dropout": 0.0, "targets": ["q", "v"]}


@pytest.mark.parametrize(
    "model,r,expected",
    [
        ("roberta-base", 8, 294_912),  # paper: 0.3M
        ("roberta-large", 8, 786_432),  # paper: 0.8M
        ("deberta-v2-xxlarge", 16, 4_718_592),  # paper: 4.7M
        ("gpt3-175b", 1, 4_718_592),  # paper: 4.7M
        ("gpt2-medium", 4, 393_216),  # paper prints 0.35M: see docs/params.md
        ("gpt2-large", 4, 737_280),
    ],
)
def test_lora_counts(model, r, expected):
    assert count_for(model, {**LORA, "r": r})["adapter"] == expected


def test_cli_prints_json(capsys):
    assert main(["params", "model=deberta-v2-xxlarge", "method=lora", "method.r=16"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["adapter"] == 4_718_592
    assert out["trainable"] == out["adapter"] + out["head"]
    assert out["total"] > 1.5e9


def test_cli_targets_override(capsys):
    assert main(["params", "model=gpt3-175b", "method.r=2", "method.targets=[q,k,v,o]"]) == 0
    assert json.loads(capsys.readouterr().out)["adapter"] == 18_874_368  # paper: 18.8M


def test_bad_input_is_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "lora_repro.cli", "params", "model=gpt2-medium", "method.targets=[q,x]"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("lora-repro params: error: unknown LoRA target(s) ['x']")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "lora_repro.cli", "params", "model=gpt5"], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "gpt5" in proc.stderr
