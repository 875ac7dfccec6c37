"""LoRA core: identity at init, q|v inside fused projections, merge/unmerge, freezing, errors."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import BUILDERS, tiny_gpt2, tiny_roberta

from lora_repro import apply_method, count_parameters, merge, unmerge
from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear, lora_layers
from lora_repro.models.arch import spec_for


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def _randomise_lora(model, scale=0.5, seed=7):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model):
            layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g) * scale)


@pytest.mark.parametrize("family", list(BUILDERS))
def test_identity_at_init_and_change_after_update(family, input_ids):
    base = BUILDERS[family]()
    ref = _logits(base, input_ids)
    model = apply_method(BUILDERS[family](), "lora", r=4, alpha=8, targets=["q", "v"])
    assert torch.equal(_logits(model, input_ids), ref)  # B = 0: the branch adds exactly nothing
    _randomise_lora(model)
    assert not torch.allclose(_logits(model, input_ids), ref, atol=1e-4)


@pytest.mark.parametrize("family", ["gpt2", "bloom", "gpt-neox", "opt", "roberta"])
@pytest.mark.parametrize("target,changes", [("q", False), ("k", False), ("v", True)])
def test_slices_are_the_real_q_k_v(family, target, changes):
    """With one token, attention's softmax is 1 whatever q and k are: only v can change the output.

    This checks that the indices LoRA writes into (fused q|k|v layouts included) are really W_q, W_k, W_v.
    """
    ids = torch.tensor([[5], [17]])
    base = BUILDERS[family]()
    ref = _logits(base, ids)
    model = apply_method(BUILDERS[family](), "lora", r=2, alpha=2, targets=[target])
    _randomise_lora(model, scale=2.0)
    out = _logits(model, ids)
    assert (not torch.allclose(out, ref, atol=1e-5)) == changes


def test_gpt2_fused_q_v_leaves_k_untouched():
    model = apply_method(tiny_gpt2(), "lora", r=4, alpha=32, targets=["q", "v"])
    layer = model.transformer.h[0].attn.c_attn
    assert isinstance(layer, LoRAFusedLinear)
    _randomise_lora(model)
    x = torch.randn(3, 5, 32)
    with torch.no_grad():
        base_out = layer.base_layer(x)
        out = layer(x)
    d = 32
    q, k, v = (out - base_out).split(d, dim=-1)
    assert q.abs().max() > 1e-3 and v.abs().max() > 1e-3
    assert torch.equal(k, torch.zeros_like(k))  # k: exactly zero change
    # the merged weight differs from W0 only in the q and v columns (Conv1D stores [in, out])
    w0 = layer.base_layer.weight.detach().clone()
    merge(model)
    dw = layer.base_layer.weight.detach() - w0
    assert torch.equal(dw[:, d : 2 * d], torch.zeros(d, d))
    assert dw[:, :d].abs().max() > 0 and dw[:, 2 * d :].abs().max() > 0


@pytest.mark.parametrize("family", ["roberta", "gpt2", "bloom"])
def test_merge_unmerge(family, input_ids):
    model = apply_method(BUILDERS[family](), "lora", r=4, alpha=16, targets=["q", "k", "v", "o"])
    _randomise_lora(model, scale=0.05)  # a trained-size update: |ΔW| a fraction of |W0|
    weights0 = {id(layer): layer.base_layer.weight.detach().clone() for layer in lora_layers(model)}
    unmerged = _logits(model, input_ids)
    merge(model)
    assert all(layer.merged for layer in lora_layers(model))
    # a merged layer must not add the branch again: logits equal, not doubled
    torch.testing.assert_close(_logits(model, input_ids), unmerged, rtol=1e-5, atol=1e-5)
    merge(model)  # idempotent
    torch.testing.assert_close(_logits(model, input_ids), unmerged, rtol=1e-5, atol=1e-5)
    unmerge(model)
    for layer in lora_layers(model):
        w0 = weights0[id(layer)]
        rel = (layer.base_layer.weight - w0).norm() / w0.norm()
        assert rel <= 1e-6
    torch.testing.assert_close(_logits(model, input_ids), unmerged, rtol=1e-6, atol=1e-6)


def test_merge_non_finite_raises_and_leaves_weights():
    model = apply_method(tiny_roberta(), "lora", r=2, alpha=2)
    layers = lora_layers(model)
    before = [layer.base_layer.weight.detach().clone() for layer in layers]
    with torch.no_grad():
        layers[-1].lora_B.fill_(float("inf"))
    with pytest.raises(FloatingPointError):
        merge(model)
    for layer, w in zip(layers, before, strict=True):
        assert torch.equal(layer.base_layer.weight, w)
        assert not layer.merged


def test_merge_in_bf16_is_computed_in_fp32():
    layer = LoRALinear(torch.nn.Linear(16, 16).to(torch.bfloat16), r=2, alpha=2)
    assert layer.lora_A.dtype == torch.float32
    with torch.no_grad():
        layer.lora_B.normal_()
    expected = (layer.base_layer.weight.float() + layer.delta_weight()).to(torch.bfloat16)
    layer.merge()
    assert torch.equal(layer.base_layer.weight, expected)


def test_only_lora_and_new_head_train(input_ids):
    model = apply_method(tiny_roberta(), "lora", r=4, alpha=8, targets=["q", "v"])
    _randomise_lora(model)
    model.train()
    out = model(input_ids=input_ids, labels=torch.tensor([0, 2]))
    out.loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    assert all(".lora_" in n or n.startswith("classifier.") for n in trainable)
    assert any(n.startswith("classifier.") for n in trainable)
    assert sum(".lora_" in n for n in trainable) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    counts = count_parameters(model)
    assert counts["adapter"] == 2 * 2 * (4 * 32 + 32 * 4)
    assert counts["trainable"] == counts["adapter"] + counts["head"]


def test_dropout_only_on_the_branch():
    torch.manual_seed(0)
    base = torch.nn.Linear(8, 8)
    layer = LoRALinear(base, r=2, alpha=2, dropout=0.9).train()
    x = torch.randn(4, 8)
    # B = 0: whatever dropout does to the branch input, the frozen path is untouched
    assert torch.equal(layer(x), base(x))
    with torch.no_grad():
        layer.lora_B.normal_()
    assert not torch.allclose(layer(x), layer(x))  # dropout active on the branch in train mode
    layer.eval()
    assert torch.equal(layer(x), layer(x))


def test_scaling_and_init():
    layer = LoRALinear(torch.nn.Linear(64, 32), r=4, alpha=32)
    assert layer.scaling == 8.0
    assert torch.equal(layer.lora_B, torch.zeros(32, 4))
    bound = 1 / math.sqrt(64)  # kaiming_uniform(a=sqrt(5)) on fan_in 64
    assert layer.lora_A.abs().max() <= bound and layer.lora_A.abs().max() > 0.5 * bound
    torch.manual_seed(0)
    g = LoRALinear(torch.nn.Linear(512, 32), r=8, alpha=8, init="gaussian", init_std=0.02)
    assert abs(g.lora_A.std().item() - 0.02) < 0.002
    x = torch.randn(3, 64)
    with torch.no_grad():
        layer.lora_B.normal_()
    expected = layer.base_layer(x) + 8.0 * (x @ layer.lora_A.T @ layer.lora_B.T)
    torch.testing.assert_close(layer(x), expected)


def test_parameter_names_follow_peft():
    model = apply_method(tiny_roberta(), "lora", r=2, alpha=2)
    names = [n for n, p in model.named_parameters() if p.requires_grad and not n.startswith("classifier")]
    assert names and all(n.endswith((".lora_A", ".lora_B")) for n in names)
    assert "roberta.encoder.layer.0.attention.self.query.lora_A" in names


def test_errors_name_the_allowed_values():
    with pytest.raises(ValueError, match=r"unknown LoRA target\(s\) \['w'\].*allowed"):
        apply_method(tiny_roberta(), "lora", targets=["q", "w"])
    with pytest.raises(ValueError, match="unknown method 'loraa'; allowed"):
        apply_method(tiny_roberta(), "loraa")
    with pytest.raises(ValueError, match="unknown option"):
        apply_method(tiny_roberta(), "lora", rank=3)
    with pytest.raises(ValueError, match="unknown LoRA init"):
        apply_method(tiny_roberta(), "lora", init="xavier")
    with pytest.raises(ValueError, match="positive integer"):
        apply_method(tiny_roberta(), "lora", r=0)

    from transformers import BertConfig, BertModel

    bert = BertModel(
        BertConfig(
            vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
        )
    )
    with pytest.raises(ValueError, match="no module map for architecture 'bert'; supported"):
        apply_method(bert, "lora")


def test_targets_map_per_architecture():
    for family, q_path in [("roberta", "attention.self.query"), ("deberta-v2", "attention.self.query_proj")]:
        model = apply_method(BUILDERS[family](), "lora", targets="q,k,v,o")
        spec = spec_for(model)
        block = spec.get_blocks(model)[0]
        assert isinstance(block.get_submodule(q_path), LoRALinear)
        assert isinstance(block.get_submodule("attention.output.dense"), LoRALinear)
        assert not isinstance(block.get_submodule("intermediate.dense"), LoRALinear)
    gpt = apply_method(tiny_gpt2(), "lora", targets=["q", "v", "o"])
    assert isinstance(gpt.transformer.h[1].attn.c_proj, LoRALinear)
    assert not isinstance(gpt.transformer.h[1].mlp.c_proj, LoRALinear)


def test_fused_merge_in_place_changes_only_the_adapted_slices_and_adds_delta_weight():
    model = apply_method(tiny_gpt2(), "lora", r=2, alpha=4, targets=["q", "v"])
    (layer, *_) = [m for m in lora_layers(model) if isinstance(m, LoRAFusedLinear)]
    with torch.no_grad():
        layer.lora_B.normal_()
    w0 = layer.base_layer.weight.detach().clone()  # Conv1D: [in, out = q | k | v]
    expected = w0 + layer.delta_weight()  # the dense ΔW, built independently of the in-place path
    merge(model)
    w = layer.base_layer.weight
    d = w.shape[1] // 3
    assert torch.equal(w[:, d : 2 * d], w0[:, d : 2 * d])  # W_k: not adapted, bit for bit untouched
    torch.testing.assert_close(w, expected, rtol=0, atol=1e-6)
    unmerge(model)
    torch.testing.assert_close(layer.base_layer.weight, w0, rtol=0, atol=1e-6)
    assert torch.equal(layer.base_layer.weight[:, d : 2 * d], w0[:, d : 2 * d])


def test_merge_beyond_the_fp32_range_raises_and_leaves_the_weight():
    layer = LoRALinear(torch.nn.Linear(4, 4), r=1, alpha=1)
    with torch.no_grad():
        layer.base_layer.weight.fill_(3.0e38)
        layer.lora_A.fill_(1.0)
        layer.lora_B.fill_(1.0e38)  # finite ΔW = 1e38: W0 + ΔW overflows to inf
    before = layer.base_layer.weight.detach().clone()
    with pytest.raises(FloatingPointError):
        layer.merge()
    assert not layer.merged
    assert torch.isfinite(layer.base_layer.weight).all()
    torch.testing.assert_close(layer.base_layer.weight, before, rtol=1e-6, atol=0)
