"""Shared pieces of the learnability tests: a small spec file, the fake cell and an override-hash resolver."""

import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from lora_repro.grid.cells import overrides_hash

FAKE = Path(__file__).resolve().parent / "fake_cell.py"

# mnli (majority, 15 above), mrpc (accuracy and F1; its LoRA cells start from MNLI),
# e2e (BLEU 20 above the untrained model), two seeds, LoRA and FT
SMALL_SPEC = """
profile: tiny
title: "Small learnability test"
seeds: [1, 2, 3]
ceiling: 98
methods:
  - {name: lora, label: LoRA}
  - {name: ft, label: FT}
untrained:
  method: ft
  overrides: ["train.epochs=0", "init_from=pretrained"]
  seeds: [1]
rows:
  - {task: mnli, model: roberta-base, metrics: [accuracy], baseline: majority,
     bar: {kind: above_baseline, points: 15}}
  - {task: mrpc, model: roberta-base, metrics: [accuracy, f1], baseline: majority,
     bar: {kind: above_baseline, points: 15}}
  - {task: e2e, model: gpt2-medium, metrics: [BLEU], baseline: first_slot_value,
     bar: {kind: above_untrained, points: 20}, label: "E2E"}
"""


def resolver(overrides):
    return overrides_hash(overrides), {}


def fake_command(cell):
    return [sys.executable, str(FAKE), *cell.overrides]


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "learnability.yaml"
    path.write_text(textwrap.dedent(SMALL_SPEC))
    return path


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Point the fake cell at files in tmp_path; returns (calls file, set_values(dict), set_fail(str))."""
    import json

    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_CALLS", str(calls))
    monkeypatch.setenv("FAKE_FAIL", "")
    monkeypatch.setenv("FAKE_COMMIT", "abc123def4567890")
    monkeypatch.chdir(tmp_path)

    def set_values(values):
        monkeypatch.setenv("FAKE_VALUES", json.dumps(values))

    def set_fail(tasks):
        monkeypatch.setenv("FAKE_FAIL", tasks)

    return calls, set_values, set_fail


@pytest.fixture
def lk():
    """The helpers as one namespace: the small spec's text, the resolver, the fake cell command."""
    return SimpleNamespace(
        SMALL_SPEC=textwrap.dedent(SMALL_SPEC), resolver=resolver, fake_command=fake_command
    )
