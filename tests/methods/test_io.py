"""save_adapter / load_adapter, and PEFT compatibility in both directions."""

from __future__ import annotations

import json

import peft  # noqa: E402  (a dev dependency, installed by `make setup`)
import pytest
import torch
from tiny_models import random_ids, tiny_deberta, tiny_gpt2, tiny_roberta

from lora_repro import apply_method, load_adapter, save_adapter
from lora_repro.methods.io import AdapterMismatchError
from lora_repro.methods.lora import lora_layers


def _perturb(model, seed=3):
    """Give every trainable tensor (LoRA and head) non-trivial values."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


BUILD = {"roberta": tiny_roberta, "deberta-v2": tiny_deberta}


@pytest.mark.parametrize("family", list(BUILD))
@pytest.mark.parametrize("targets", [["q", "v"], ["q", "k", "v", "o"]])
def test_peft_loads_our_adapter(tmp_path, family, targets):
    ids = random_ids()
    ours = apply_method(BUILD[family](seed=1), "lora", r=4, alpha=8, targets=targets)
    _perturb(ours)
    save_adapter(ours, tmp_path / "a")
    cfg = json.loads((tmp_path / "a" / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    pm = peft.PeftModel.from_pretrained(BUILD[family](seed=1), str(tmp_path / "a")).eval()
    torch.testing.assert_close(_logits(pm, ids), _logits(ours, ids), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", list(BUILD))
def test_we_load_peft_adapter(tmp_path, family):
    ids = random_ids()
    target_modules = {"roberta": ["query", "value"], "deberta-v2": ["query_proj", "value_proj"]}[family]
    config = peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS,
        r=4,
        lora_alpha=16,
        target_modules=target_modules,
        modules_to_save=["pooler", "classifier"] if family == "deberta-v2" else None,
    )
    pm = peft.get_peft_model(BUILD[family](seed=1), config)
    _perturb(pm)
    pm.eval()
    pm.save_pretrained(str(tmp_path / "p"))
    ours = load_adapter(BUILD[family](seed=1), tmp_path / "p")
    assert len(lora_layers(ours)) == 2 * 2
    torch.testing.assert_close(_logits(ours, ids), _logits(pm, ids), rtol=1e-5, atol=1e-5)


def test_round_trip_gpt2_fused_not_peft(tmp_path):
    ids = random_ids()
    model = apply_method(tiny_gpt2(seed=2), "lora", r=2, alpha=4, targets=["q", "v"])
    _perturb(model)
    save_adapter(model, tmp_path / "g")
    cfg = json.loads((tmp_path / "g" / "adapter_config.json").read_text())
    assert "peft_type" not in cfg  # q|v inside fused c_attn has no PEFT equivalent
    assert cfg["lora_repro"]["methods"] == [
        {"name": "lora", "options": {"r": 2, "alpha": 4, "targets": ["q", "v"]}}
    ]
    restored = load_adapter(tiny_gpt2(seed=2), tmp_path / "g")
    assert torch.equal(_logits(restored, ids), _logits(model, ids))


def test_refuses_a_different_base_model(tmp_path):
    model = apply_method(tiny_gpt2(seed=2), "lora", r=2, alpha=4)
    save_adapter(model, tmp_path / "g")
    with pytest.raises(AdapterMismatchError, match="fingerprint"):
        load_adapter(tiny_gpt2(seed=99), tmp_path / "g")  # a randomly initialised backbone
    with pytest.raises(AdapterMismatchError, match="model_type"):
        load_adapter(tiny_roberta(), tmp_path / "g")


def test_save_requires_a_method_and_load_requires_files(tmp_path):
    with pytest.raises(ValueError, match="no adaptation method"):
        save_adapter(tiny_roberta(), tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_adapter(tiny_roberta(), tmp_path / "missing")


def test_weights_are_safetensors_only(tmp_path):
    model = apply_method(tiny_roberta(), "lora", r=2, alpha=2)
    save_adapter(model, tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / "a" / "adapter_model.safetensors"))
    assert "base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.weight" in keys
    assert "base_model.model.classifier.out_proj.weight" in keys
