"""LoRA (Hu et al., 2021): h = W0 x + (alpha / r) * B A x, W0 frozen, B = 0 at the start.

::

         x ──────────────► W0 (frozen) ────────────┐
         │                                          + ──► h
         └─► dropout ─► A (r × d_in) ─► B (d_out × r) ─► × alpha/r

Two layers, both holding their base module as ``base_layer`` and their factors as parameters named
``lora_A`` / ``lora_B`` (PEFT's naming):

* :class:`LoRALinear` wraps ``nn.Linear`` (RoBERTa, DeBERTa-v2, OPT) and transformers' ``Conv1D``
  (GPT-2, weight stored transposed as [d_in, d_out]).
* :class:`LoRAFusedLinear` wraps a fused q|k|v projection and adapts only some of its slices (the
  paper's q and v inside GPT-2's ``c_attn``, as loralib's ``MergedLinear(enable_lora=[True, False,
  True])``). The down-projections of all adapted slices run as one matmul; each up-projection is
  added into its own slice of the output; k is never touched.

Initialisation: ``init="kaiming"`` (default) draws A from kaiming-uniform(a=sqrt(5)) as loralib
does; ``init="gaussian"`` draws A from N(0, init_std^2) as the paper's text says ("random Gaussian
initialization for A"; the reference DeBERTa code uses std 0.02, our default). B is always zero.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lora_repro.methods.base import register_method
from lora_repro.models.arch import ArchSpec, get_submodule, set_submodule

INITS = ("kaiming", "gaussian")


def _is_conv1d(module: nn.Module) -> bool:
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf")


def _in_out(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if _is_conv1d(module):
        return module.weight.shape[0], module.weight.shape[1]
    raise TypeError(f"LoRA supports nn.Linear and transformers Conv1D, not {type(module).__name__}")


class _LoRABase(nn.Module):
    """Shared state: the frozen base layer, scaling, dropout, merge bookkeeping."""

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float) -> None:
        super().__init__()
        if int(r) < 1:
            raise ValueError(f"LoRA rank r must be a positive integer, got {r!r}")
        self.base_layer = base
        self.r = int(r)
        self.alpha = float(alpha)
        self.scaling = self.alpha / self.r
        self.dropout = nn.Dropout(dropout) if dropout and dropout > 0 else None
        self.merged = False
        self.conv1d = _is_conv1d(base)
        self.in_features, self.out_features = _in_out(base)

    def _lora_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            x = self.dropout(x)
        return x.to(self.lora_A.dtype)

    def _init_A(self, init: str, init_std: float) -> None:
        if init == "kaiming":
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        elif init == "gaussian":
            nn.init.normal_(self.lora_A, mean=0.0, std=init_std)
        else:
            raise ValueError(f"unknown LoRA init {init!r}; allowed: {list(INITS)}")
        nn.init.zeros_(self.lora_B)

    # ---- merge / unmerge ---------------------------------------------------------------------
    def delta_weight(self) -> torch.Tensor:
        """ΔW in fp32, laid out like the base weight ([out, in] for Linear, [in, out] for Conv1D)."""
        raise NotImplementedError

    def delta_rows(self) -> tuple[torch.Tensor | None, torch.Tensor]:
        """ΔW restricted to the output units it changes: ``(index, block)`` with ``block`` laid out like
        the base weight along the other dimension (``index`` None: every output unit, ``block`` = ΔW).
        Merging adds only these rows, in place, with no copy of the whole weight."""
        return None, self.delta_weight()

    def _add_rows(self, index: torch.Tensor | None, block: torch.Tensor) -> None:
        """W0 += block in place, on the output units ``index`` (all when None)."""
        w = self.base_layer.weight
        if index is None:
            w.add_(block)
        else:  # Conv1D stores [in, out]: its output units are columns
            w.index_add_(1 if self.conv1d else 0, index, block)

    def _factor_pairs(self) -> list[tuple[slice | None, torch.Tensor, torch.Tensor]]:
        """``(output units, B_i, A_i)`` per adapted block, the units a contiguous range (None: all), or
        an empty list when some block's units are not contiguous (then :meth:`_add_rows` does it)."""
        return [(None, self.lora_B, self.lora_A)]

    def _addmm(self, sign: float) -> bool:
        """W0 += sign · scaling · B A in place, one ``addmm_`` per block on a view of W0 (no ΔW is
        materialised, no index_add over a strided dimension); False if the layout does not allow it."""
        pairs = self._factor_pairs()
        if not pairs or self.lora_A.dtype != self.base_layer.weight.dtype:
            return False
        w, alpha = self.base_layer.weight, sign * self.scaling
        for units, b, a in pairs:
            if self.conv1d:  # [in, out]: ΔW^T = A^T B^T on the unit columns
                (w if units is None else w[:, units]).addmm_(a.T, b.T, alpha=alpha)
            else:  # [out, in]: ΔW = B A on the unit rows
                (w if units is None else w[units]).addmm_(b, a, alpha=alpha)
        return True

    def _delta_bound(self) -> float:
        """An upper bound on |ΔW| entries, r · max|B| · max|A| · |scaling|, from the small factors alone
        (inf when A or B holds a non-finite value)."""
        amax = float(torch.linalg.vector_norm(self.lora_A.detach().float(), ord=float("inf")))
        bmax = float(torch.linalg.vector_norm(self.lora_B.detach().float(), ord=float("inf")))
        if not (math.isfinite(amax) and math.isfinite(bmax)):
            return math.inf
        return self.r * amax * bmax * abs(self.scaling)

    @torch.no_grad()
    def merge(self) -> None:
        """W0 += ΔW, computed in fp32. Raises (W0 unchanged) if the result is not finite.

        An fp32 weight is updated in place, only on the adapted output units (no temporary the size
        of W: those made a task switch slower than loading a whole checkpoint); a half-precision
        weight is summed in fp32 and rounded once."""
        if self.merged:
            return
        w = self.base_layer.weight
        bad = FloatingPointError(f"merging LoRA into {tuple(w.shape)} weight gives non-finite values")
        if w.dtype == torch.float32:
            lo, hi = torch.aminmax(w)  # no copy of W
            bound = max(-float(lo), float(hi)) + self._delta_bound()
            if bound < torch.finfo(torch.float32).max:  # the usual case: nothing can overflow, so
                if not self._addmm(1.0):  # add in place on the adapted units only
                    self._add_rows(*self.delta_rows())
                self.merged = True
                return
        new = w.float() + self.delta_weight()  # half precision, or magnitudes near fp32's limit
        if not torch.isfinite(new).all():
            raise bad
        w.copy_(new.to(w.dtype))
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """W0 -= ΔW (fp32): restores the base weight after :meth:`merge`."""
        if not self.merged:
            return
        w = self.base_layer.weight
        if w.dtype == torch.float32:
            if not self._addmm(-1.0):
                index, block = self.delta_rows()
                self._add_rows(index, block.neg_())
        else:
            w.copy_((w.float() - self.delta_weight()).to(w.dtype))
        self.merged = False


class LoRALinear(_LoRABase):
    """LoRA around one ``nn.Linear`` or ``Conv1D``."""

    def __init__(
        self,
        base: nn.Module,
        r: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "kaiming",
        init_std: float = 0.02,
    ) -> None:
        super().__init__(base, r, alpha, dropout)
        w = base.weight
        dtype = torch.float32 if w.dtype in (torch.float16, torch.bfloat16) else w.dtype
        self.lora_A = nn.Parameter(torch.empty(self.r, self.in_features, device=w.device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.empty(self.out_features, self.r, device=w.device, dtype=dtype))
        if w.device.type != "meta":
            self._init_A(init, init_std)

    def delta_weight(self) -> torch.Tensor:
        a, b = self.lora_A.float(), self.lora_B.float()
        if self.conv1d:  # [in, out], computed in that layout (contiguous: in-place adds stay fast)
            return (a.T @ b.T).mul_(self.scaling)
        return (b @ a).mul_(self.scaling)  # [out, in]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        h = self._lora_input(x)  # [..., in]
        delta = F.linear(F.linear(h, self.lora_A), self.lora_B)  # [..., r] -> [..., out]
        return out + (delta * self.scaling).to(out.dtype)


class LoRAFusedLinear(_LoRABase):
    """LoRA on some slices of a fused q|k|v projection; the other slices stay exactly as they were.

    ``slices`` maps each adapted slice name to its output indices in the fused output. ``lora_A``
    stacks the slices' down-projections ([n·r, in]); ``lora_B`` stacks their up-projections
    ([n·d_slice, r]), block i belonging to slice i.
    """

    def __init__(
        self,
        base: nn.Module,
        slices: dict[str, torch.Tensor],
        r: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "kaiming",
        init_std: float = 0.02,
    ) -> None:
        super().__init__(base, r, alpha, dropout)
        self.slice_names = tuple(slices)
        n = len(slices)
        self.d_slice = int(next(iter(slices.values())).numel())
        index = torch.cat([slices[k] for k in self.slice_names])
        self.register_buffer("lora_index", index.to(torch.long), persistent=False)
        w = base.weight
        dtype = torch.float32 if w.dtype in (torch.float16, torch.bfloat16) else w.dtype
        self.lora_A = nn.Parameter(torch.empty(n * self.r, self.in_features, device=w.device, dtype=dtype))
        self.lora_B = nn.Parameter(torch.empty(n * self.d_slice, self.r, device=w.device, dtype=dtype))
        if w.device.type != "meta":
            self._init_A(init, init_std)

    def _factor_pairs(self) -> list[tuple[slice | None, torch.Tensor, torch.Tensor]]:
        n, d, r = len(self.slice_names), self.d_slice, self.r
        pairs = []
        for i in range(n):
            units = self.lora_index[i * d : (i + 1) * d]
            start = int(units[0])
            if not torch.equal(units, torch.arange(start, start + d, device=units.device)):
                return []
            pairs.append(
                (slice(start, start + d), self.lora_B[i * d : (i + 1) * d], self.lora_A[i * r : (i + 1) * r])
            )
        return pairs

    def _slice_deltas(self, a: torch.Tensor) -> torch.Tensor:
        n, d, r = len(self.slice_names), self.d_slice, self.r
        a = a.unflatten(-1, (n, r))  # [..., n, r]
        b = self.lora_B.view(n, d, r)  # [n, d, r]
        return torch.einsum("...nr,ndr->...nd", a, b).flatten(-2)  # [..., n*d]

    def _blocks(self) -> torch.Tensor:
        """ΔW of the adapted slices, [n*d, in], in the order of ``lora_index``."""
        n, r = len(self.slice_names), self.r
        a = self.lora_A.float().view(n, r, self.in_features)  # [n, r, in]
        b = self.lora_B.float().view(n, self.d_slice, r)  # [n, d, r]
        return torch.bmm(b, a).reshape(n * self.d_slice, self.in_features).mul_(self.scaling)

    def delta_rows(self) -> tuple[torch.Tensor | None, torch.Tensor]:
        if not self.conv1d:
            return self.lora_index, self._blocks()  # [n*d, in]
        n, r = len(self.slice_names), self.r
        a = self.lora_A.float().view(n, r, self.in_features)
        b = self.lora_B.float().view(n, self.d_slice, r)
        block = torch.einsum("nri,ndr->ind", a, b).reshape(self.in_features, n * self.d_slice)
        return self.lora_index, block.contiguous().mul_(self.scaling)  # [in, n*d], Conv1D's layout

    def delta_weight(self) -> torch.Tensor:
        n, r = len(self.slice_names), self.r
        a = self.lora_A.float().view(n, r, self.in_features)  # [n, r, in]
        b = self.lora_B.float().view(n, self.d_slice, r)  # [n, d, r]
        blocks = torch.bmm(b, a).reshape(n * self.d_slice, self.in_features) * self.scaling  # [n*d, in]
        full = torch.zeros(self.out_features, self.in_features, dtype=torch.float32, device=blocks.device)
        full.index_copy_(0, self.lora_index, blocks)  # [out, in]
        return full.T if self.conv1d else full

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)  # [..., out]
        if self.merged:
            return out
        h = self._lora_input(x)
        a = F.linear(h, self.lora_A)  # [..., n*r]: all down-projections in one matmul
        delta = (self._slice_deltas(a) * self.scaling).to(out.dtype)  # [..., n*d]
        return out.index_add(out.dim() - 1, self.lora_index, delta)


LORA_LAYERS = (LoRALinear, LoRAFusedLinear)


def normalise_targets(targets: Any, spec: ArchSpec) -> list[str]:
    """``"q,v"``, ``["q", "v"]`` -> ``["q", "v"]``, with a clear error for unknown names."""
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    targets = list(dict.fromkeys(str(t) for t in targets))
    if not targets:
        raise ValueError("LoRA needs at least one target; allowed: " + ", ".join(spec.allowed_targets()))
    allowed = spec.allowed_targets()
    bad = [t for t in targets if t not in allowed]
    if bad:
        raise ValueError(f"unknown LoRA target(s) {bad} for {spec.family}; allowed: {list(allowed)}")
    return targets


def inject_lora(
    model: nn.Module,
    spec: ArchSpec,
    r: int = 8,
    alpha: float = 8,
    dropout: float = 0.0,
    targets: Any = ("q", "v"),
    init: str = "kaiming",
    init_std: float = 0.02,
) -> list[nn.Parameter]:
    """Wrap every targeted projection of every block with LoRA; return the LoRA parameters."""
    targets = normalise_targets(targets, spec)
    if init not in INITS:
        raise ValueError(f"unknown LoRA init {init!r}; allowed: {list(INITS)}")
    kw = dict(r=r, alpha=alpha, dropout=dropout, init=init, init_std=init_std)
    params: list[nn.Parameter] = []
    prefix = spec.blocks_prefix(model)
    for i, block in spec.iter_blocks(model):
        fused = [t for t in targets if spec.is_fused(t)]
        if fused:
            base = get_submodule(block, spec.fused_qkv)
            _check_unwrapped(base, f"{prefix}.{i}.{spec.fused_qkv}")
            all_slices = spec.fused_slices(model.config, _in_out(base)[1])
            layer = LoRAFusedLinear(base, {t: all_slices[t] for t in ("q", "k", "v") if t in fused}, **kw)
            set_submodule(block, spec.fused_qkv, layer)
            params += [layer.lora_A, layer.lora_B]
        for t in targets:
            if spec.is_fused(t):
                continue
            path = spec.targets[t]
            base = get_submodule(block, path)
            _check_unwrapped(base, f"{prefix}.{i}.{path}")
            layer = LoRALinear(base, **kw)
            set_submodule(block, path, layer)
            params += [layer.lora_A, layer.lora_B]
    return params


def _check_unwrapped(module: nn.Module, where: str) -> None:
    if isinstance(module, LORA_LAYERS):
        raise ValueError(f"{where} already has LoRA")
    _in_out(module)


register_method("lora", ("r", "alpha", "dropout", "targets", "init", "init_std"))(inject_lora)


def lora_layers(model: nn.Module) -> list[_LoRABase]:
    return [m for m in model.modules() if isinstance(m, LORA_LAYERS)]


def merge(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer into its base weight (fp32 arithmetic); inference then costs nothing extra."""
    done: list[_LoRABase] = []
    try:
        for layer in lora_layers(model):
            layer.merge()
            done.append(layer)
    except FloatingPointError:
        for layer in done:  # leave the model as it was
            layer.unmerge()
        raise
    return model


def unmerge(model: nn.Module) -> nn.Module:
    """Undo :func:`merge`: subtract ΔW from every merged base weight."""
    for layer in lora_layers(model):
        layer.unmerge()
    return model
