"""Every method on every family: which parameters train, identity at init, change after training."""

from __future__ import annotations

import pytest
import torch
from tiny_models import BUILDERS, random_ids

from lora_repro import apply_method, count_parameters
from lora_repro.methods.base import head_prefixes, is_head_param
from lora_repro.models.arch import spec_for

METHODS = {
    "ft": {},
    "ft_top": {"k": 1},
    "bitfit": {},
    "adapter_h": {"r": 4},
    "adapter_l": {"r": 4},
    "adapter_p": {"r": 4},
    "adapter_d": {"r": 4, "drop": 1},
    "preembed": {"l_p": 3, "l_i": 2},
    "prelayer": {"l_p": 3, "l_i": 2},
    "lora_pe": {"r": 2, "l_p": 3, "l_i": 2},
    "lora_pl": {"r": 2, "l_p": 3, "l_i": 2},
}
IDENTITY = {"ft", "ft_top", "bitfit"}  # exactly the base model at init
NEAR_IDENTITY = {"adapter_h", "adapter_l", "adapter_p", "adapter_d"}  # within tolerance


def _expected(name: str, model, blocks: str, n_blocks: int) -> set[str]:
    """The parameter names that must train, derived from the names alone (not from the method code)."""
    names = [n for n, _ in model.named_parameters()]
    heads = head_prefixes(model)
    if name == "ft":
        keep = names
    elif name == "ft_top":
        keep = [n for n in names if n.startswith(f"{blocks}.{n_blocks - 1}.")]
    elif name == "bitfit":
        keep = [n for n in names if n.endswith(".bias")]
    elif name == "adapter_d":  # blocks 1.. only (drop=1)
        keep = [n for n in names if ".adapter" in n and not n.startswith(f"{blocks}.0.")]
    elif name.startswith("adapter"):
        keep = [n for n in names if ".adapter" in n]
    else:
        keep = [n for n in names if n.startswith("prefix_tuning.") or ".lora_" in n]
    return set(keep) | {n for n in names if is_head_param(n, heads)}


def _batch(model, ids):
    if spec_for(model).decoder:
        return {"input_ids": ids, "labels": ids}
    return {"input_ids": ids, "labels": torch.tensor([0, 1])}


def _out(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("family", list(BUILDERS))
@pytest.mark.parametrize("method", list(METHODS))
def test_gradients_identity_and_training(family, method):
    ids = random_ids()
    base = BUILDERS[family]()
    ref = _out(base, ids)
    model = BUILDERS[family]()  # same seed: same weights as base
    spec = spec_for(model)
    blocks, n_blocks = spec.blocks_prefix(model), len(spec.get_blocks(model))
    apply_method(model, method, **METHODS[method])
    expected = _expected(method, model, blocks, n_blocks)
    assert expected, "a method must train something"

    out = _out(model, ids)
    assert out.shape == ref.shape
    if method in IDENTITY:
        assert torch.equal(out, ref)
    elif method in NEAR_IDENTITY:
        torch.testing.assert_close(out, ref, atol=2e-3, rtol=0)

    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(3):
        opt.zero_grad()
        loss = model(**_batch(model, ids)).loss
        loss.backward()
        if step == 0:
            got = {n for n, p in model.named_parameters() if p.grad is not None}
            assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])
        opt.step()
    model.eval()
    assert not torch.allclose(_out(model, ids), ref, atol=1e-4)
    counts = count_parameters(model)
    heads = head_prefixes(model)
    assert counts["adapter"] == sum(
        p.numel() for n, p in model.named_parameters() if n in expected and not is_head_param(n, heads)
    )
