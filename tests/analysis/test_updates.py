"""lora_updates: every LoRA update as (block, target, A, B, scaling), fused q|k|v slices taken apart."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_gpt2, tiny_roberta

from lora_repro import apply_method, load_adapter, save_adapter
from lora_repro.analysis import lora_updates
from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear


def _train_b(model, seed=0):
    """B starts at zero (ΔW = 0); give it values so that the updates are not trivially equal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.copy_(torch.randn(p.shape, generator=g))


def test_encoder_updates_are_the_wrapped_layers_delta_weights():
    model = apply_method(tiny_roberta(), "lora", r=2, alpha=4, targets=["q", "v"])
    _train_b(model)
    ups = lora_updates(model)
    assert [(u.block, u.target) for u in ups] == [(0, "q"), (0, "v"), (1, "q"), (1, "v")]
    layers = {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}
    for u in ups:
        assert u.rank == 2 and u.scaling == 2.0
        torch.testing.assert_close(u.delta(), layers[u.module].delta_weight())
    assert ups[0].module.endswith("layer.0.attention.self.query")


def test_fused_gpt2_slices_put_back_give_the_fused_delta():
    model = apply_method(tiny_gpt2(), "lora", r=3, alpha=3, targets=["q", "v"])
    _train_b(model, seed=1)
    ups = lora_updates(model)
    assert [(u.block, u.target) for u in ups] == [(0, "q"), (0, "v"), (1, "q"), (1, "v")]
    fused = {n: m for n, m in model.named_modules() if isinstance(m, LoRAFusedLinear)}
    for block in (0, 1):
        q, v = (u for u in ups if u.block == block)
        layer = fused[q.module]
        d = q.B.shape[0]
        rebuilt = torch.zeros(layer.out_features, layer.in_features)
        rebuilt[layer.lora_index[:d]] = q.delta()
        rebuilt[layer.lora_index[d:]] = v.delta()
        torch.testing.assert_close(rebuilt, layer.delta_weight().T)  # Conv1D stores [in, out]
        assert q.A.shape == (3, layer.in_features) and not torch.equal(q.A, v.A)


def test_updates_read_back_from_a_saved_adapter(tmp_path):
    model = apply_method(tiny_gpt2(), "lora", r=2, targets=["q", "v"])
    _train_b(model, seed=2)
    save_adapter(model, tmp_path / "adapter")
    loaded = load_adapter(tiny_gpt2(), tmp_path / "adapter")
    for a, b in zip(lora_updates(model), lora_updates(loaded), strict=True):
        assert (a.block, a.target) == (b.block, b.target)
        torch.testing.assert_close(a.delta(), b.delta())


def test_a_model_without_lora_is_refused():
    with pytest.raises(ValueError, match="carries no LoRA"):
        lora_updates(apply_method(tiny_roberta(), "bitfit"))
