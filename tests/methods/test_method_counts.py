"""count_parameters(model)["adapter"] equals the paper's closed-form |Θ| at several shapes (meta device)."""

from __future__ import annotations

import pytest

from lora_repro import apply_method, count_parameters
from lora_repro.models.build import build_model

SHAPES = [(64, 3), (96, 5), (256, 7)]  # (d_model, L)


def _adapter(d, r):
    return 2 * d * r + r + d


def closed_form(method: str, opts: dict, d: int, L: int) -> int:
    """The paper's formulas (§5.1), written out independently of the method code."""
    lp_li = opts.get("l_p", 0) + opts.get("l_i", 0)
    lora = 2 * 2 * L * d * opts["r"] if "r" in opts and method.startswith("lora") else 0
    return {
        "adapter_h": 2 * L * _adapter(d, opts.get("r", 0)),
        "adapter_l": L * _adapter(d, opts.get("r", 0)) + 2 * L * d,
        "adapter_p": L * _adapter(d, opts.get("r", 0)),
        "adapter_d": (L - opts.get("drop", 0)) * _adapter(d, opts.get("r", 0)),
        "preembed": d * lp_li,
        "prelayer": L * d * lp_li,
        "lora_pe": lora + d * lp_li,
        "lora_pl": lora + L * d * lp_li,
    }[method]


CASES = [
    ("adapter_h", {"r": 1}),
    ("adapter_h", {"r": 8}),
    ("adapter_l", {"r": 6}),
    ("adapter_p", {"r": 16}),
    ("adapter_d", {"r": 4, "drop": 2}),
    ("preembed", {"l_p": 5, "l_i": 3}),
    ("prelayer", {"l_p": 2, "l_i": 0}),
    ("lora_pe", {"r": 4, "l_p": 8, "l_i": 4}),
    ("lora_pl", {"r": 2, "l_p": 3, "l_i": 1}),
]
MODELS = {  # model file, overrides naming d_model and L
    "gpt2-medium": ("n_embd", "n_layer"),
    "roberta-base": ("hidden_size", "num_hidden_layers"),
    "deberta-v2-xxlarge": ("hidden_size", "num_hidden_layers"),
    "opt-66b": ("hidden_size", "num_hidden_layers"),
}


def _build(name, d, L):
    dk, lk = MODELS[name]
    extra = {"word_embed_proj_dim": d, "ffn_dim": 4 * d} if name.startswith("opt") else {}
    extra |= {"pooler_hidden_size": d} if name.startswith("deberta") else {}
    extra |= {"intermediate_size": 4 * d} if "hidden_size" == dk and not name.startswith("opt") else {}
    return build_model(name, device="meta", overrides={dk: d, lk: L, "num_attention_heads": 4, **extra})


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("d,L", SHAPES)
def test_closed_forms(model, d, L):
    for method, opts in CASES:
        m = apply_method(_build(model, d, L), method, **opts)
        assert count_parameters(m)["adapter"] == closed_form(method, opts, d, L), (method, opts)


@pytest.mark.parametrize("d,L", SHAPES)
def test_ft_bitfit_counts_gpt2(d, L):
    """GPT-2 block: 12 d^2 + 13 d parameters, 11 d of them biases; ln_f adds d of bias."""
    block = 12 * d * d + 13 * d
    assert count_parameters(apply_method(_build("gpt2-medium", d, L), "ft_top", k=2))["adapter"] == 2 * block
    assert count_parameters(apply_method(_build("gpt2-medium", d, L), "bitfit"))["adapter"] == 11 * d * L + d
    ft = count_parameters(apply_method(_build("gpt2-medium", d, L), "ft"))
    assert ft["adapter"] == ft["total"] == L * block + (50257 + 1024) * d + 2 * d


@pytest.mark.parametrize("d,L", SHAPES)
def test_bitfit_roberta(d, L):
    """q, k, v, o, two LayerNorms and the MLP output: 7 d per block, + 4 d (MLP input) + embedding LN."""
    counts = count_parameters(apply_method(_build("roberta-base", d, L), "bitfit"))
    assert counts["adapter"] == L * (7 * d + 4 * d) + d
    assert counts["head"] == d * d + d + 2 * d + 2  # classifier dense + out_proj (2 labels), not counted


def test_paper_rows_that_must_match():
    """Issue 3's list: GPT-3 Adapter^H 7.1M / 40.1M, PreEmbed 3.2M; RoBERTa-large Adapter^H/P 0.8M."""

    def count(model, method, **opts):
        return count_parameters(apply_method(build_model(model, device="meta"), method, **opts))["adapter"]

    assert count("gpt3-175b", "adapter_h", r=1) == 7_078_080
    assert count("gpt3-175b", "adapter_h", r=8) == 40_109_568
    assert count("gpt3-175b", "preembed", l_p=256, l_i=8) == 3_244_032
    assert count("gpt3-175b", "prelayer", l_p=8, l_i=8) == 18_874_368  # paper prints 20.2M
    assert count("roberta-large", "adapter_h", r=8) == 835_968
    assert count("roberta-large", "adapter_p", r=16) == 811_392
    assert count("gpt2-medium", "ft_top", k=2) == 25_192_448  # paper: 25.19M
