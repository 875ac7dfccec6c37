"""Tiny-model pretraining: deterministic, cached once, safe against concurrent starts, loadable."""

from __future__ import annotations

import subprocess
import sys

import pytest
from safetensors.torch import load_file

from lora_repro.models.load import load_model
from lora_repro.models.pretrain import ensure_pretrained, tiny_model_dir
from lora_repro.models.pretrain_cli import main as pretrain_main

pytestmark = pytest.mark.slow
QUICK = {"steps": 3, "batch_size": 4, "seq_len": 32, "corpus_size": 300}


def _weights(path):
    return load_file(str(path / "model.safetensors"))


def test_causal_lm_pretraining_is_cached_and_deterministic(tmp_path, cache_dir):
    a = ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **QUICK)
    b = ensure_pretrained("gpt2-medium", tmp_path / "b", progress=False, **QUICK)
    assert a == tiny_model_dir("gpt2-medium", tmp_path / "a", **QUICK)
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    before = (a / "model.safetensors").stat().st_mtime_ns
    assert ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **QUICK) == a
    assert (a / "model.safetensors").stat().st_mtime_ns == before  # cached: not trained again
    assert ensure_pretrained("gpt2-medium", tmp_path / "a", progress=False, **{**QUICK, "steps": 4}) != a
    loaded = load_model({"name": "gpt2-medium", "kind": "decoder", "path": str(a)})
    assert loaded.model.config.n_embd == 64 and loaded.tokenizer.eos_token == "</s>"


def test_masked_lm_encoder_gets_a_classification_head(tmp_path, cache_dir):
    path = ensure_pretrained("roberta-base", tmp_path, progress=False, **QUICK)
    loaded = load_model({"name": "roberta-base", "kind": "encoder", "path": str(path)}, num_labels=3)
    assert type(loaded.model).__name__ == "RobertaForSequenceClassification"
    assert loaded.model.config.num_labels == 3 and loaded.model.config.hidden_size == 64
    reg = load_model({"name": "roberta-base", "kind": "encoder", "path": str(path)}, regression=True)
    assert reg.model.config.num_labels == 1 and reg.model.config.problem_type == "regression"


def test_concurrent_starts_train_once(tmp_path, cache_dir):
    code = (
        "import sys; from lora_repro.models.pretrain import ensure_pretrained; "
        f"print(ensure_pretrained('gpt2-medium', sys.argv[1], progress=False, **{QUICK!r}))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] == str(tiny_model_dir("gpt2-medium", tmp_path, **QUICK))
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_pretrain_cli(tmp_path, capsys, cache_dir):
    assert pretrain_main(["model=gpt2-medium", "steps=2", f"cache_dir={tmp_path}"]) == 0
    path = capsys.readouterr().out.strip()
    assert path.startswith(str(tmp_path / "models" / "gpt2-medium-"))
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        pretrain_main(["model=nope"])
    with pytest.raises(ValueError, match="give model=<name>"):
        pretrain_main([])
