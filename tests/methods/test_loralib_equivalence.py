"""Our LoRA layers compute what loralib's do (the reference implementation the paper's numbers came from).

Same W0, bias, lora_A and lora_B on both sides: the forward pass, the merged weight and the merged
forward pass agree, for GPT-2's fused ``c_attn`` (``loralib.MergedLinear(enable_lora=[True, False,
True], fan_in_fan_out=True)``, the reference GPT-2's layer) and for a plain projection
(``loralib.Linear``, the reference RoBERTa's and DeBERTa's).
"""

from __future__ import annotations

import loralib
import pytest
import torch
from tiny_models import tiny_gpt2, tiny_roberta

from lora_repro import apply_method, merge, unmerge
from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear

D, R, ALPHA = 32, 4, 32


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _fused_pair(r: int = R, alpha: float = ALPHA) -> tuple[LoRAFusedLinear, loralib.MergedLinear]:
    """Our fused layer on a tiny GPT-2's c_attn and a loralib MergedLinear holding the same tensors."""
    model = apply_method(tiny_gpt2(), "lora", r=r, alpha=alpha, targets=["q", "v"])
    ours = model.transformer.h[0].attn.c_attn
    ref = loralib.MergedLinear(
        D,
        3 * D,
        r=r,
        lora_alpha=alpha,
        enable_lora=[True, False, True],
        fan_in_fan_out=True,
        merge_weights=False,
    )
    with torch.no_grad():
        ours.lora_A.copy_(_randn(2 * r, D, seed=1))
        ours.lora_B.copy_(_randn(2 * D, r, seed=2))
        ref.weight.copy_(ours.base_layer.weight)  # [in, out]: GPT-2's Conv1D layout (fan_in_fan_out)
        ref.bias.copy_(ours.base_layer.bias)
        ref.lora_A.copy_(ours.lora_A)
        ref.lora_B.copy_(ours.lora_B)
    return ours, ref


def _linear_pair(r: int = 8, alpha: float = 16) -> tuple[LoRALinear, loralib.Linear]:
    """Our layer on a tiny RoBERTa's query and a loralib Linear holding the same tensors."""
    model = apply_method(tiny_roberta(), "lora", r=r, alpha=alpha, targets=["q", "v"])
    ours = model.roberta.encoder.layer[0].attention.self.query
    ref = loralib.Linear(D, D, r=r, lora_alpha=alpha, merge_weights=False)
    with torch.no_grad():
        ours.lora_A.copy_(_randn(r, D, seed=3))
        ours.lora_B.copy_(_randn(D, r, seed=4))
        for name in ("weight", "bias"):
            getattr(ref, name).copy_(getattr(ours.base_layer, name))
        ref.lora_A.copy_(ours.lora_A)
        ref.lora_B.copy_(ours.lora_B)
    return ours, ref


def _run(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x)


def test_fused_c_attn_forward_equals_loralib_merged_linear():
    ours, ref = _fused_pair()
    x = _randn(2, 5, D, seed=5)
    out, want = _run(ours, x), _run(ref, x)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    # the branch really contributes (B != 0) and k's slice is W0's alone in both
    base = _run(ours.base_layer, x)
    assert not torch.allclose(out, base, atol=1e-3)
    torch.testing.assert_close(out[..., D : 2 * D], base[..., D : 2 * D])
    torch.testing.assert_close(want[..., D : 2 * D], base[..., D : 2 * D])


def test_fused_c_attn_merged_weight_equals_loralib():
    ours, ref = _fused_pair()
    ref.merge_weights = True
    ref.eval()  # loralib merges on eval() when merge_weights is set
    assert ref.merged
    w0 = ours.base_layer.weight.detach().clone()
    ours.merge()
    torch.testing.assert_close(ours.base_layer.weight, ref.weight, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(ours.base_layer.weight, w0)
    x = _randn(3, 4, D, seed=6)
    torch.testing.assert_close(_run(ours, x), _run(ref, x), rtol=1e-5, atol=1e-5)
    ours.unmerge()
    torch.testing.assert_close(ours.base_layer.weight, w0, rtol=0, atol=1e-5)  # |ΔW| ~ 10: fp32 rounding


def test_fused_delta_weight_equals_loralib_merge_ab():
    ours, ref = _fused_pair(r=2, alpha=8)
    with torch.no_grad():
        want = ref.merge_AB() * ref.scaling  # [in, out] under fan_in_fan_out
    torch.testing.assert_close(ours.delta_weight(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("r,alpha", [(8, 16), (2, 1)])
def test_linear_forward_and_merge_equal_loralib_linear(r, alpha):
    ours, ref = _linear_pair(r, alpha)
    x = _randn(2, 6, D, seed=7)
    torch.testing.assert_close(_run(ours, x), _run(ref, x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(_run(ours, x), _run(ours.base_layer, x), atol=1e-3)
    ref.merge_weights = True
    ref.eval()
    ours.merge()
    torch.testing.assert_close(ours.base_layer.weight, ref.weight, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(_run(ours, x), _run(ref, x), rtol=1e-5, atol=1e-5)


def test_whole_gpt2_matches_loralib_layers_swapped_in(input_ids):
    """A tiny GPT-2 with loralib MergedLinear in every c_attn gives our LoRA model's logits."""
    ours = apply_method(tiny_gpt2(), "lora", r=R, alpha=ALPHA, targets=["q", "v"])
    ref = tiny_gpt2()
    for i, block in enumerate(ref.transformer.h):
        layer = ours.transformer.h[i].attn.c_attn
        with torch.no_grad():
            layer.lora_A.copy_(_randn(2 * R, D, seed=10 + i))
            layer.lora_B.copy_(_randn(2 * D, R, seed=20 + i))
        ml = loralib.MergedLinear(
            D,
            3 * D,
            r=R,
            lora_alpha=ALPHA,
            enable_lora=[True, False, True],
            fan_in_fan_out=True,
            merge_weights=False,
        )
        ml.load_state_dict({"weight": block.attn.c_attn.weight, "bias": block.attn.c_attn.bias,
                            "lora_A": layer.lora_A.detach(), "lora_B": layer.lora_B.detach()})  # fmt: skip
        block.attn.c_attn = ml
    ref.eval()
    with torch.no_grad():
        out, want = ours(input_ids=input_ids).logits, ref(input_ids=input_ids).logits
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)
    merge(ours)
    with torch.no_grad():
        torch.testing.assert_close(ours(input_ids=input_ids).logits, want, rtol=1e-4, atol=1e-4)
    unmerge(ours)
