"""Where each adapter sits: an adapter whose branch is a constant c equals adding c to a known bias."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_gpt2, tiny_roberta

from lora_repro import apply_method
from lora_repro.methods.adapters import Adapter

C_SEED = 9


def _constant_branch(model) -> torch.Tensor:
    """Make every adapter's branch output one constant vector c (up.weight = 0, up.bias = c)."""
    c = torch.randn(32, generator=torch.Generator().manual_seed(C_SEED)) * 0.3
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, Adapter):
                m.up.weight.zero_()
                m.up.bias.copy_(c)
    return c


# (method, options, builder, the biases that absorb c in the base model, first adapted block)
CASES = [
    ("adapter_h", {"r": 2}, tiny_gpt2, ["attn.c_proj.bias", "mlp.c_proj.bias"], 0),
    ("adapter_p", {"r": 2}, tiny_gpt2, ["mlp.c_proj.bias"], 0),  # pre-LN: block output y + c
    ("adapter_l", {"r": 2}, tiny_gpt2, ["mlp.c_proj.bias"], 0),
    ("adapter_d", {"r": 2, "drop": 1}, tiny_gpt2, ["mlp.c_proj.bias"], 1),
    ("adapter_h", {"r": 2}, tiny_roberta, ["attention.output.dense.bias", "output.dense.bias"], 0),
    ("adapter_p", {"r": 2}, tiny_roberta, ["output.dense.bias"], 0),  # post-LN: LN(x + c)
    ("adapter_l", {"r": 2}, tiny_roberta, ["output.LayerNorm.bias"], 0),  # after the block's LN: y + c
    ("adapter_d", {"r": 2, "drop": 1}, tiny_roberta, ["output.dense.bias"], 1),
]


@pytest.mark.parametrize("method,opts,build,biases,first", CASES)
def test_adapter_placement(method, opts, build, biases, first):
    ids = torch.tensor([[5, 17, 33, 8, 61, 2]])
    model = apply_method(build(), method, **opts)
    c = _constant_branch(model)
    ref = build()
    blocks = ref.transformer.h if hasattr(ref, "transformer") else ref.roberta.encoder.layer
    with torch.no_grad():
        for i, block in enumerate(blocks):
            if i >= first:
                for path in biases:
                    block.get_parameter(path).add_(c)
        torch.testing.assert_close(model(input_ids=ids).logits, ref(input_ids=ids).logits)
