"""The models a benchmark compares: the paper's architectures at real widths, fewer layers, and variants.

Every variant is built through the public API (``apply_method``, ``merge``): what is timed is what a
user of lora-repro runs. Adapter bottlenecks are chosen per design so that the adapter's |Θ| on the
full 24-layer GPT-2 medium is the integer r nearest the paper's budget (``paper.BUDGETS``), then kept
per layer: a model with L layers carries the same per-layer adapter, so its |Θ| is L/24 of the budget
and its per-layer cost is the paper's.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from lora_repro.bench.paper import BUDGETS
from lora_repro.methods import apply_method, count_parameters, merge
from lora_repro.models.build import build_model

GPT2_MEDIUM = {"d": 1024, "layers": 24}
FLOOR_PARAM = "bench_floor_scale"

# |Θ| per block of each design at width d and bottleneck (or rank) r: lora_repro.methods' formulas
PER_BLOCK = {
    "adapter_l": lambda d, r: 2 * d * r + r + d + 2 * d,  # one adapter + its trainable LayerNorm
    "adapter_h": lambda d, r: 2 * (2 * d * r + r + d),  # two adapters per block
    "lora": lambda d, r: 2 * (d * r + r * d),  # W_q and W_v, A and B each
}
LABELS = {"adapter_l": "Adapter^L", "adapter_h": "Adapter^H", "lora": "LoRA"}


def theta(method: str, r: int, d: int = GPT2_MEDIUM["d"], layers: int = GPT2_MEDIUM["layers"]) -> int:
    """|Θ| of ``method`` with bottleneck/rank ``r`` on ``layers`` blocks of width ``d``."""
    if method not in PER_BLOCK:
        raise ValueError(f"unknown bench method {method!r}; allowed: {sorted(PER_BLOCK)}")
    return layers * PER_BLOCK[method](d, r)


def bottleneck(method: str, budget: str | int, d: int = GPT2_MEDIUM["d"], layers: int = 24) -> int:
    """The integer r whose |Θ| on ``layers`` blocks of width ``d`` is nearest ``budget``."""
    target = BUDGETS.get(budget) if isinstance(budget, str) else int(budget)
    if target is None:
        raise ValueError(f"unknown |Θ| budget {budget!r}; allowed: {sorted(BUDGETS)} or an integer")
    per_r = theta(method, 2, d, layers) - theta(method, 1, d, layers)
    guess = max(1, round((target - theta(method, 0, d, layers)) / per_r))
    return min(
        (r for r in (guess - 1, guess, guess + 1) if r >= 1),
        key=lambda r: abs(theta(method, r, d, layers) - target),
    )


TEST_VOCAB = 1000  # the vocabulary of the narrow models that tests build (``width=`` of a bench command)


def narrow(family: str, width: int | None) -> dict[str, Any]:
    """Config overrides of a narrow test model (``width`` None or 1024/768: the real widths, no overrides)."""
    if not width or width == {"gpt2": 1024, "roberta": 768}[family]:
        return {}
    heads = max(1, width // 64)
    if family == "gpt2":
        return {
            "n_embd": width,
            "n_head": heads,
            "vocab_size": TEST_VOCAB,
            "bos_token_id": 0,
            "eos_token_id": 0,
        }
    return {"hidden_size": width, "num_attention_heads": heads, "intermediate_size": 4 * width,
            "vocab_size": TEST_VOCAB}  # fmt: skip


def gpt2_medium(layers: int, seed: int = 0, device: str = "cpu", **overrides: Any) -> nn.Module:
    """GPT-2 medium (``configs/model/gpt2-medium.yaml``'s widths) with ``layers`` blocks, random weights."""
    if layers < 1:
        raise ValueError(f"layers={layers!r}: GPT-2 medium benchmarks need 1 to 24 layers")
    torch.manual_seed(seed)
    return build_model("gpt2-medium", device=device, overrides={"n_layer": layers, **overrides})


def roberta_base(
    layers: int, seed: int = 0, device: str = "cpu", num_labels: int = 3, **overrides: Any
) -> nn.Module:
    """RoBERTa-base widths with ``layers`` blocks and a classification head, random weights."""
    if layers < 1:
        raise ValueError(f"layers={layers!r}: RoBERTa-base benchmarks need 1 to 12 layers")
    torch.manual_seed(seed)
    over = {"num_hidden_layers": layers, **overrides}
    return build_model("roberta-base", device=device, num_labels=num_labels, overrides=over)


def shared_copy(model: nn.Module) -> nn.Module:
    """A deep copy that shares the (frozen, never modified) input and position embeddings."""
    memo: dict[int, Any] = {}
    for emb in (model.get_input_embeddings(), getattr(getattr(model, "transformer", None), "wpe", None)):
        if emb is not None:
            memo[id(emb.weight)] = emb.weight
    return copy.deepcopy(model, memo)


def randomize_lora(model: nn.Module, seed: int = 1, std: float = 0.02) -> nn.Module:
    """Give every ``lora_B`` random values, so that merging really changes the weights (B starts at 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("lora_B"):
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model


def lora(
    model: nn.Module, r: int, alpha: float | None = None, merged: bool = False, seed: int = 1
) -> nn.Module:
    """LoRA on W_q, W_v (rank r, alpha 2r unless given) with random B; merged into W0 if ``merged``."""
    apply_method(model, "lora", r=r, alpha=float(alpha if alpha is not None else 2 * r), targets=["q", "v"])
    randomize_lora(model, seed)
    return merge(model) if merged else model


def adapter(model: nn.Module, method: str, r: int) -> nn.Module:
    if method not in ("adapter_l", "adapter_h"):
        raise ValueError(f"unknown adapter {method!r}; allowed: adapter_l, adapter_h")
    return apply_method(model, method, r=r)


def frozen_floor(model: nn.Module) -> nn.Module:
    """Every weight frozen; one trainable scalar scales the input embedding's output (starts at 1).

    The cheapest a parameter-efficient method can be: the forward pass, and a backward pass that
    computes activation gradients through every layer (to reach the scalar) but no weight gradient.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    emb = model.get_input_embeddings()
    model.register_parameter(FLOOR_PARAM, nn.Parameter(torch.ones((), device=emb.weight.device)))

    def scale(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
        return out * getattr(model, FLOOR_PARAM).to(out.dtype)

    emb.register_forward_hook(scale)
    return model


def trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def latency_variants(base: nn.Module, budgets: list[str], d: int = GPT2_MEDIUM["d"]) -> dict[str, nn.Module]:
    """FT (the base itself), merged LoRA, and per budget unmerged LoRA, Adapter^L and Adapter^H."""
    out: dict[str, nn.Module] = {"FT": base}
    for i, budget in enumerate(budgets):
        unmerged = lora(shared_copy(base), bottleneck("lora", budget, d))
        if i == 0:  # the same adapter merged: runs the base layer alone, at a cost independent of r
            out["LoRA merged"] = merge(shared_copy(unmerged))
        out[f"LoRA unmerged {budget}"] = unmerged
        for method in ("adapter_l", "adapter_h"):
            out[f"{LABELS[method]} {budget}"] = adapter(
                shared_copy(base), method, bottleneck(method, budget, d)
            )
    return out


def describe(model: nn.Module) -> dict[str, int]:
    """|Θ| and total parameter count of a variant (``count_parameters``)."""
    counts = count_parameters(model)
    return {"adapter": counts["adapter"], "total": counts["total"]}
