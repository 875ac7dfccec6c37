"""The bench variants compute what they say: |Θ| at the paper's budgets, merged = unmerged, the floor."""

from __future__ import annotations

import pytest
import torch

from lora_repro.bench.variants import (
    FLOOR_PARAM,
    bottleneck,
    frozen_floor,
    gpt2_medium,
    latency_variants,
    narrow,
    roberta_base,
    theta,
    trainable,
)
from lora_repro.methods import apply_method, count_parameters, merge, unmerge
from lora_repro.models.build import build_model

# (budget, method) -> (r, |Θ| at 24 layers): the nearest integer bottleneck to 0.5M and 11.09M
EXPECTED = {
    ("0.5M", "lora"): (5, 491_520),
    ("0.5M", "adapter_l"): (9, 516_312),
    ("0.5M", "adapter_h"): (5, 540_912),
    ("11M", "lora"): (113, 11_108_352),
    ("11M", "adapter_l"): (224, 11_089_152),  # Table 3's Adapter^L 11.09M
    ("11M", "adapter_h"): (112, 11_064_576),  # the suite's Table 3 Adapter^H (docs/params.md)
}


@pytest.mark.parametrize(("budget", "method"), sorted(EXPECTED))
def test_bottlenecks_are_the_nearest_to_the_budget(budget, method):
    r, count = EXPECTED[(budget, method)]
    assert bottleneck(method, budget) == r
    assert theta(method, r) == count


@pytest.mark.parametrize(("budget", "method"), sorted(EXPECTED))
def test_the_adapters_have_the_theta_they_claim_on_the_real_24_layer_model(budget, method):
    r, count = EXPECTED[(budget, method)]
    model = build_model("gpt2-medium", device="meta")
    options = {"r": r, "targets": ["q", "v"]} if method == "lora" else {"r": r}
    apply_method(model, method, **options)
    assert count_parameters(model)["adapter"] == count


def test_fewer_layers_scale_theta_per_layer():
    model = gpt2_medium(2, device="meta")
    apply_method(model, "adapter_h", r=112)
    assert count_parameters(model)["adapter"] == theta("adapter_h", 112, layers=2) == 11_064_576 // 12


def test_unknown_budget_and_method_are_refused():
    with pytest.raises(ValueError, match="allowed"):
        bottleneck("lora", "3M")
    with pytest.raises(ValueError, match="allowed"):
        theta("prefix", 4)


def test_latency_variants_merged_equals_unmerged_and_differs_from_ft():
    base = gpt2_medium(2, **narrow("gpt2", 64)).eval()
    variants = latency_variants(base, ["0.5M", "11M"])
    assert sorted(variants) == sorted(
        ["FT", "LoRA merged"]
        + [f"{m} {b}" for b in ("0.5M", "11M") for m in ("LoRA unmerged", "Adapter^L", "Adapter^H")]
    )
    ids = torch.randint(0, base.config.vocab_size, (2, 16))
    with torch.inference_mode():
        out = {k: m.transformer(input_ids=ids).last_hidden_state for k, m in variants.items()}
    torch.testing.assert_close(out["LoRA merged"], out["LoRA unmerged 0.5M"], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out["LoRA merged"], out["FT"], atol=1e-4)  # B is random: merging changed W
    for k in ("Adapter^L 0.5M", "Adapter^H 11M"):  # near-identity adapters: close to the base, not equal
        assert not torch.equal(out[k], out["FT"])
    # the base is untouched by building the variants: its weights are not shared with a merged copy
    assert not any(p.data_ptr() == q.data_ptr() for p in base.transformer.h.parameters()
                   for q in variants["LoRA merged"].transformer.h.parameters())  # fmt: skip


def test_merge_unmerge_round_trip_on_the_bench_lora():
    from lora_repro.bench.variants import lora

    model = lora(gpt2_medium(1, **narrow("gpt2", 64)), 4).eval()
    ids = torch.randint(0, model.config.vocab_size, (1, 8))
    with torch.inference_mode():
        before = model(input_ids=ids).logits
        merge(model)
        merged = model(input_ids=ids).logits
        unmerge(model)
        after = model(input_ids=ids).logits
    torch.testing.assert_close(merged, before, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["gpt2", "roberta"])
def test_the_floor_has_exactly_one_trainable_scalar_and_backward_reaches_it(family):
    model = (
        gpt2_medium(1, **narrow("gpt2", 64)) if family == "gpt2" else roberta_base(1, **narrow("roberta", 64))
    )
    frozen_floor(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert [n for n, _ in named] == [FLOOR_PARAM] and named[0][1].numel() == 1 and trainable(model) == 1
    ids = torch.randint(3, model.config.vocab_size, (2, 8))
    labels = ids if family == "gpt2" else torch.tensor([0, 1])
    model(input_ids=ids, labels=labels).loss.backward()
    grad = getattr(model, FLOOR_PARAM).grad
    assert grad is not None and grad.abs().item() > 0
    assert all(p.grad is None for n, p in model.named_parameters() if n != FLOOR_PARAM)
