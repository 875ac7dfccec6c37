"""Adapter layers (paper §5.1): Houlsby (H), Lin (L), Pfeiffer (P) and AdapterDrop (D).

An adapter is a bottleneck with a residual connection::

    h ──┬──────────────────────────────────────────────┐
        └─► [LayerNorm (L only)] ─► down (d → r) ─► act ─► up (r → d) ─► + ──► h'

|Θ| of one adapter is 2·d·r + r + d (two weight matrices and their biases), plus 2·d for Adapter^L's
trainable LayerNorm: the paper's |Θ| = L̂_Adpt × (2 × d_model × r + r + d_model) + 2 × L̂_LN × d_model.

Placement (``d`` is d_model, L the number of blocks), following each design's original code:

* ``adapter_h`` (Houlsby et al., 2019): two adapters per block, on the output of the attention output
  projection and on the output of the MLP's second projection, before the residual add
  (L̂_Adpt = 2L, L̂_LN = 0; the paper's GPT-3 counts 7.1M / 40.1M exclude LayerNorms). GELU, as in
  Houlsby's adapter-bert code.
* ``adapter_l`` (Lin et al., 2020): one adapter on each block's output, after the MLP and the
  residual, normalising its input with its own trainable LayerNorm (L̂_Adpt = L̂_LN = L). ReLU.
* ``adapter_p`` (Pfeiffer et al., 2021): one adapter per block after the MLP and its residual sum
  (AdapterHub's Pfeiffer configuration). Post-LayerNorm blocks (RoBERTa, DeBERTa): with
  x = h + mlp(h), the block's ``LN(x)`` becomes ``LN(x + A(LN(x)))``; pre-LayerNorm blocks: the block
  output y becomes ``y + A(y)``. L̂_Adpt = L. ReLU.
* ``adapter_d`` (Rücklé et al., 2021): Pfeiffer adapters, without those of the lowest ``drop`` blocks
  (L̂_Adpt = L − drop).

Initialisation is near identity for all four, as adapter-bert does: both weight matrices from a
normal distribution with std 1e-3 truncated at two std, biases zero, LayerNorm gain 1 and bias 0.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from lora_repro.methods.base import register_method
from lora_repro.models.arch import ArchSpec, get_submodule, set_submodule

INIT_STD = 1e-3
ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def d_model(model: nn.Module) -> int:
    cfg = model.config
    for key in ("hidden_size", "n_embd", "d_model", "word_embed_proj_dim"):
        if getattr(cfg, key, None):
            return int(getattr(cfg, key))
    raise ValueError(f"cannot find d_model in {type(cfg).__name__}")


def _check_r(r: int) -> int:
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"adapter bottleneck r must be a positive integer, got {r!r}")
    return r


class Adapter(nn.Module):
    """``h + up(act(down(norm(h))))``; ``norm`` is a trainable LayerNorm (Adapter^L) or nothing."""

    def __init__(self, d: int, r: int, act: str = "relu", layer_norm: bool = False, like=None) -> None:
        super().__init__()
        kw = {"device": like.device, "dtype": param_dtype(like)} if like is not None else {}
        self.norm = nn.LayerNorm(d, **kw) if layer_norm else None
        self.down = nn.Linear(d, r, **kw)  # [r, d] + [r]
        self.act = ACTIVATIONS[act]()
        self.up = nn.Linear(r, d, **kw)  # [d, r] + [d]
        if self.down.weight.device.type != "meta":
            for lin in (self.down, self.up):
                nn.init.trunc_normal_(lin.weight, std=INIT_STD, a=-2 * INIT_STD, b=2 * INIT_STD)
                nn.init.zeros_(lin.bias)

    def branch(self, h: torch.Tensor) -> torch.Tensor:
        """The bottleneck alone: ``up(act(down(norm(h))))``, [..., d] -> [..., d]."""
        x = h.to(self.down.weight.dtype)
        if self.norm is not None:
            x = self.norm(x)
        return self.up(self.act(self.down(x))).to(h.dtype)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.branch(h)  # [..., d]


def param_dtype(like: torch.Tensor) -> torch.dtype:
    return torch.float32 if like.dtype in (torch.float16, torch.bfloat16) else like.dtype


class AdaptedProjection(nn.Module):
    """A frozen projection followed by an adapter: ``adapter(base_layer(x))``."""

    def __init__(self, base: nn.Module, adapter: Adapter) -> None:
        super().__init__()
        self.base_layer = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.adapter(self.base_layer(x, *args, **kwargs))


def _block_output_hook(attr: str, block: nn.Module, args, output):
    """Apply ``block.<attr>`` to the block's hidden-state output (a tensor or a tuple's first item)."""
    adapter = getattr(block, attr)
    if isinstance(output, tuple):
        return (adapter(output[0]), *output[1:])
    return adapter(output)


class AdaptedLayerNorm(nn.Module):
    """Pfeiffer's adapter in a post-LayerNorm block, around the block's frozen MLP LayerNorm.

    With x = h + mlp(h) the LayerNorm's input: ``LN(x + A(LN(x)))``, A = up(relu(down(.))): the
    adapter reads the normalised output, its result joins the residual sum, and the same LayerNorm
    is applied again (AdapterHub's Pfeiffer configuration: original_ln_before, residual_before_ln,
    original_ln_after). At A = 0 this is exactly LN(x).
    """

    def __init__(self, base: nn.Module, adapter: Adapter) -> None:
        super().__init__()
        self.base_layer = base
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base_layer(x + self.adapter.branch(self.base_layer(x)))


def _attach_block_adapters(
    model: nn.Module, spec: ArchSpec, attr: str, r: int, act: str, layer_norm: bool, skip: int = 0
) -> list[nn.Parameter]:
    """One adapter per block (from block ``skip`` on) on the block's output, as ``block.<attr>``."""
    d = d_model(model)
    params: list[nn.Parameter] = []
    for i, block in spec.iter_blocks(model):
        if i < skip:
            continue
        if hasattr(block, attr):
            raise ValueError(f"block {i} already has an adapter {attr!r}")
        setattr(block, attr, Adapter(d, r, act=act, layer_norm=layer_norm, like=next(block.parameters())))
        block.register_forward_hook(functools.partial(_block_output_hook, attr))
        params += list(getattr(block, attr).parameters())
    return params


def _pfeiffer(model: nn.Module, spec: ArchSpec, r: int, skip: int, attr: str) -> list[nn.Parameter]:
    if spec.pre_ln:  # x + mlp(LN(x)) is the block output: y + A(y)
        return _attach_block_adapters(model, spec, attr, r, "relu", layer_norm=False, skip=skip)
    d = d_model(model)
    params: list[nn.Parameter] = []
    for i, block in spec.iter_blocks(model):
        if i < skip:
            continue
        base = get_submodule(block, spec.ln_mlp)
        if isinstance(base, AdaptedLayerNorm):
            raise ValueError(f"block {i}: {spec.ln_mlp} already has an adapter")
        adapter = Adapter(d, r, act="relu", like=next(base.parameters()))
        set_submodule(block, spec.ln_mlp, AdaptedLayerNorm(base, adapter))
        params += list(adapter.parameters())
    return params


def _wrap(model: nn.Module, spec: ArchSpec, paths: list[str], r: int, act: str) -> list[nn.Parameter]:
    d = d_model(model)
    params: list[nn.Parameter] = []
    for i, block in spec.iter_blocks(model):
        for path in paths:
            if not path:
                raise ValueError(f"{spec.family}: no module path for an adapter placement")
            base = get_submodule(block, path)
            if isinstance(base, AdaptedProjection):
                raise ValueError(f"block {i}: {path} already has an adapter")
            adapter = Adapter(d, r, act=act, like=next(base.parameters()))
            set_submodule(block, path, AdaptedProjection(base, adapter))
            params += list(adapter.parameters())
    return params


def inject_adapter_h(model: nn.Module, spec: ArchSpec, r: int = 8) -> list[nn.Parameter]:
    """Houlsby: adapters after the attention output projection and after the MLP, before the residuals."""
    return _wrap(model, spec, [spec.attn_out, spec.mlp_out], _check_r(r), "gelu")


def inject_adapter_p(model: nn.Module, spec: ArchSpec, r: int = 16) -> list[nn.Parameter]:
    """Pfeiffer: one adapter per block after the MLP and its residual sum."""
    return _pfeiffer(model, spec, _check_r(r), 0, "adapter_p")


def inject_adapter_d(model: nn.Module, spec: ArchSpec, r: int = 16, drop: int = 5) -> list[nn.Parameter]:
    """AdapterDrop: Pfeiffer adapters in every block except the lowest ``drop`` ones."""
    n = len(spec.get_blocks(model))
    if isinstance(drop, bool) or not isinstance(drop, int) or not 0 <= drop < n:
        raise ValueError(
            f"adapter_d: drop must be an integer in 0..{n - 1} (the model has {n} blocks), got {drop!r}"
        )
    return _pfeiffer(model, spec, _check_r(r), drop, "adapter_d")


def inject_adapter_l(model: nn.Module, spec: ArchSpec, r: int = 8) -> list[nn.Parameter]:
    """Lin: one adapter with its own LayerNorm on each block's output (after the MLP and residual)."""
    return _attach_block_adapters(model, spec, "adapter_l", _check_r(r), "relu", layer_norm=True)


register_method("adapter_h", ("r",))(inject_adapter_h)
register_method("adapter_l", ("r",))(inject_adapter_l)
register_method("adapter_p", ("r",))(inject_adapter_p)
register_method("adapter_d", ("r", "drop"))(inject_adapter_d)
