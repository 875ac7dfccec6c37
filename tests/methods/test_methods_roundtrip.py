"""Save/load (safetensors) round-trips every method to identical outputs; GPT-2 generates with each."""

from __future__ import annotations

import pytest
import torch
from tiny_models import BUILDERS, random_ids

from lora_repro import apply_method, load_adapter, save_adapter
from lora_repro.methods.base import applied_methods
from lora_repro.methods.io import AdapterMismatchError

METHODS = {
    "ft": {},
    "ft_top": {"k": 1},
    "bitfit": {},
    "adapter_h": {"r": 3},
    "adapter_l": {"r": 3},
    "adapter_p": {"r": 3},
    "adapter_d": {"r": 3, "drop": 1},
    "preembed": {"l_p": 2, "l_i": 2},
    "prelayer": {"l_p": 2, "l_i": 1},
    "lora_pe": {"r": 2, "alpha": 4, "l_p": 2, "l_i": 2},
    "lora_pl": {"r": 2, "targets": ["q", "k", "v", "o"], "l_p": 1, "l_i": 2},
}


def _train_like(model, seed=5):
    """Move every trained tensor (task head included) away from its initial value, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def _out(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("family", ["gpt2", "roberta", "deberta-v2", "opt", "bloom"])
@pytest.mark.parametrize("method", list(METHODS))
def test_save_load_round_trip(family, method, tmp_path):
    ids = random_ids()
    model = apply_method(BUILDERS[family](), method, **METHODS[method])
    _train_like(model)
    ref = _out(model, ids)
    assert not torch.allclose(ref, _out(BUILDERS[family](), ids), atol=1e-4)
    save_adapter(model, tmp_path / "adapter")
    fresh = load_adapter(BUILDERS[family](), tmp_path / "adapter")  # same seed: the same base weights
    assert applied_methods(fresh) == applied_methods(model)
    assert torch.equal(_out(fresh, ids), ref)


def test_ft_adapter_refuses_another_base(tmp_path):
    model = apply_method(BUILDERS["gpt2"](), "ft")
    _train_like(model)
    save_adapter(model, tmp_path / "ft")
    with pytest.raises(AdapterMismatchError, match="fingerprint"):
        load_adapter(BUILDERS["gpt2"](seed=1), tmp_path / "ft")


@pytest.mark.parametrize("method", list(METHODS))
def test_gpt2_generates_with_every_method(method):
    model = apply_method(BUILDERS["gpt2"](), method, **METHODS[method])
    _train_like(model)
    prompt = random_ids(2, 5)
    with torch.no_grad():
        gen = model.generate(
            input_ids=prompt, max_new_tokens=6, do_sample=False, use_cache=True, pad_token_id=0
        )
        full = model(input_ids=gen[:, :-1], context_lengths=5).logits  # recompute without the cache
    assert gen.shape == (2, 11) and torch.equal(gen[:, :5], prompt)
    assert torch.equal(full[:, 4:].argmax(-1), gen[:, 5:])  # every generated token is the greedy choice


def test_unknown_options_and_bad_values_are_refused():
    with pytest.raises(ValueError, match="ft_top: k must be an integer in 1..2"):
        apply_method(BUILDERS["gpt2"](), "ft_top", k=3)
    with pytest.raises(ValueError, match="adapter_d: drop must be an integer in 0..1"):
        apply_method(BUILDERS["roberta"](), "adapter_d", r=2, drop=2)
    with pytest.raises(ValueError, match="bottleneck r must be a positive integer"):
        apply_method(BUILDERS["gpt2"](), "adapter_h", r=0)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['r'\]"):
        apply_method(BUILDERS["gpt2"](), "preembed", r=2)
