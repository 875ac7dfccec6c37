"""Every LoRA update of a model as (block, target, A, B, scaling), fused q|k|v slices taken apart."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear
from lora_repro.models.arch import spec_for


@dataclass(frozen=True)
class LowRankUpdate:
    """ΔW = scaling · B A of one adapted projection (one slice of a fused one), in fp32.

    ``delta()`` is laid out as [out, in] (the nn.Linear convention) for every architecture, GPT-2's
    Conv1D included, so updates of different models compare directly.
    """

    block: int  # index of the Transformer block
    target: str  # q, k, v, o, mlp_in, mlp_out
    module: str  # the adapted module's path in the model
    A: torch.Tensor  # [r, in]
    B: torch.Tensor  # [out, r]
    scaling: float

    @property
    def rank(self) -> int:
        return int(self.A.shape[0])

    def delta(self) -> torch.Tensor:
        """scaling · B @ A, [out, in]."""
        return (self.B @ self.A) * self.scaling


def _slices(layer: LoRAFusedLinear) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    n, r, d = len(layer.slice_names), layer.r, layer.d_slice
    a = layer.lora_A.detach().float().view(n, r, layer.in_features)  # [n, r, in]
    b = layer.lora_B.detach().float().view(n, d, r)  # [n, d, r]
    return [(name, a[i].clone(), b[i].clone()) for i, name in enumerate(layer.slice_names)]


def lora_updates(model: nn.Module) -> list[LowRankUpdate]:
    """The model's LoRA updates, block by block and in target order (q, k, v, o, ...).

    Raises ValueError when the model carries no LoRA (load the adapter first)."""
    spec = spec_for(model)
    prefix = spec.blocks_prefix(model)
    paths = {path: target for target, path in spec.targets.items()}
    out: list[LowRankUpdate] = []
    for i, block in spec.iter_blocks(model):
        for path, module in block.named_modules():
            where = f"{prefix}.{i}.{path}"
            if isinstance(module, LoRAFusedLinear):
                for name, a, b in _slices(module):
                    out.append(LowRankUpdate(i, name, where, a, b, module.scaling))
            elif isinstance(module, LoRALinear):
                target = paths.get(path, path)
                a, b = module.lora_A.detach().float().clone(), module.lora_B.detach().float().clone()
                out.append(LowRankUpdate(i, target, where, a, b, module.scaling))
    if not out:
        raise ValueError(
            f"{type(model).__name__} carries no LoRA: apply_method(..., 'lora') or load_adapter first"
        )
    order = {t: k for k, t in enumerate(spec.targets)}
    return sorted(out, key=lambda u: (u.block, order.get(u.target, len(order)), u.target))
