"""Every metric loads as a local ``evaluate`` module by path with the network switched off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lora_repro.metrics.evaluate_modules import MODULES, module_path

SCRIPT = r"""
import json, warnings
warnings.simplefilter("ignore")
import evaluate
from lora_repro.metrics.evaluate_modules import module_path
table = {"header": ["Player", "No."], "types": ["text", "real"], "rows": [["Tom", "42"], ["Ann", "7"]]}
cat = "the cat sat on the mat"
calls = {
    "glue/cola": dict(predictions=[1, 0, 1, 1], references=[1, 0, 0, 1]),
    "glue/mnli": dict(predictions=["entailment", "neutral"], references=["entailment", "contradiction"]),
    "glue/stsb": dict(predictions=[1.0, 2.0, 3.0], references=[2.0, 4.0, 6.0]),
    "samsum": dict(predictions=["A b. C d."], references=["C d. A b."]),
    "wikisql": dict(predictions=["SELECT Player FROM table WHERE No. = 42.0"],
                    references=["SELECT Player FROM table WHERE No. = 42"], tables=[table]),
    "dart": dict(predictions=[cat], references=[[cat + " today", "a dog"]]),
    "webnlg": dict(predictions=[cat, cat], references=[[cat + " today"], [cat]], seen=[True, False]),
    "e2e": dict(predictions=[cat], references=[[cat + " today"]]),
}
out = {}
for name, kwargs in calls.items():
    path, _, config = name.partition("/")
    module = evaluate.load(module_path(path), config) if config else evaluate.load(module_path(path))
    out[name] = module.compute(**kwargs)
print(json.dumps(out))
"""


def test_module_paths():
    assert MODULES == ("glue", "e2e", "webnlg", "dart", "samsum", "wikisql")
    for name in MODULES:
        assert os.path.isfile(os.path.join(module_path(name), f"{name}.py"))
    with pytest.raises(ValueError, match="unknown evaluate module 'bleu'"):
        module_path("bleu")


def test_all_modules_load_and_compute_offline(tmp_path):
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1")
    env.update(HF_DATASETS_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["glue/cola"] == {"matthews": pytest.approx(100 * 2 / 12**0.5)}
    assert out["glue/mnli"] == {"accuracy": 50.0}
    assert out["glue/stsb"]["pearson"] == pytest.approx(100.0)
    assert out["samsum"]["rougeLsum"] == pytest.approx(100.0) and out["samsum"]["rougeL"] == pytest.approx(
        50.0
    )
    assert out["wikisql"] == {"lf_accuracy": 0.0, "ex_accuracy": 100.0}
    short_bleu = 100 * 2.718281828459045 ** (1 - 7 / 6)
    assert out["dart"]["BLEU"] == pytest.approx(short_bleu) and out["dart"]["TER"] == pytest.approx(1 / 7)
    assert out["webnlg"]["TER_S"] == pytest.approx(1 / 7) and out["webnlg"]["TER_U"] == 0.0
    assert set(out["e2e"]) == {"BLEU", "NIST", "METEOR", "ROUGE_L", "CIDEr"}
    assert out["e2e"]["BLEU"] == pytest.approx(short_bleu)
