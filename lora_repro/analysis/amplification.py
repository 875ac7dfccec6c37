"""Table 7 of the paper (Section 7.3): how ΔW_q relates to W_q, and the amplification factor.

For a rank r, take U [out, r] and V [in, r], the top-r left and right singular vectors of a matrix M
(ΔW_q, W_q itself, or a random Gaussian matrix), and project W_q onto them: ||Uᵀ W_q V||_F (the
paper writes Uᵀ W Vᵀ with V as rows). With M = ΔW_q this says how much W_q already contains the
directions ΔW_q adapts; the amplification factor ||ΔW_q||_F / ||Uᵀ W_q V||_F (U, V of ΔW_q) says how
strongly ΔW_q amplifies them. The paper: about 21.5 at r = 4 and about 2 at r = 64 (GPT-3, layer 48).

ΔW_q is the update as the model applies it, scaling alpha/r included (``LowRankUpdate.delta()``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from lora_repro.analysis.subspace import random_gaussian
from lora_repro.analysis.updates import LowRankUpdate
from lora_repro.methods.lora import LoRAFusedLinear, LoRALinear


def top_directions(M: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(U [out, r], V [in, r]): the top-r left and right singular vectors of ``M`` [out, in]."""
    if M.dim() != 2:
        raise ValueError(f"expected a 2-d matrix [out, in], got shape {tuple(M.shape)}")
    if not 1 <= r <= min(M.shape):
        raise ValueError(f"r={r} out of range for a {tuple(M.shape)} matrix; allowed 1..{min(M.shape)}")
    u, _, vh = torch.linalg.svd(M.detach().double(), full_matrices=False)
    return u[:, :r], vh[:r].T


def projection_norm(W: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> float:
    """||Uᵀ W V||_F: the size of W inside the subspaces spanned by U's and V's columns."""
    if U.shape[0] != W.shape[0] or V.shape[0] != W.shape[1]:
        raise ValueError(f"U {tuple(U.shape)} and V {tuple(V.shape)} do not fit W {tuple(W.shape)}")
    return float(torch.linalg.matrix_norm(U.T @ W.double() @ V))


@dataclass(frozen=True)
class Table7Column:
    """One rank of Table 7: the three projections, the two norms and the amplification factor."""

    r: int
    proj_delta: float  # ||Uᵀ W_q V||_F, U, V of ΔW_q
    proj_w: float  # ... of W_q itself (= the norm of W_q's top-r singular values)
    proj_random: float  # ... of a random Gaussian matrix
    w_norm: float  # ||W_q||_F
    delta_norm: float  # ||ΔW_q||_F

    @property
    def amplification(self) -> float:
        """||ΔW_q||_F / ||Uᵀ W_q V||_F with U, V of ΔW_q (inf when the projection is 0)."""
        return self.delta_norm / self.proj_delta if self.proj_delta > 0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        """The column's numbers, the amplification factor included."""
        return {**asdict(self), "amplification": self.amplification}


def table7_column(W: torch.Tensor, delta: torch.Tensor, r: int, seed: int = 0) -> Table7Column:
    """Table 7's numbers for one rank r, from the base weight W_q and the update ΔW_q (both [out, in])."""
    if W.shape != delta.shape:
        raise ValueError(f"W {tuple(W.shape)} and ΔW {tuple(delta.shape)} differ in shape")
    W = W.detach().double()
    rand = random_gaussian(W.shape[0], W.shape[1], seed)
    return Table7Column(
        r=r,
        proj_delta=projection_norm(W, *top_directions(delta, r)),
        proj_w=projection_norm(W, *top_directions(W, r)),
        proj_random=projection_norm(W, *top_directions(rand, r)),
        w_norm=float(torch.linalg.matrix_norm(W)),
        delta_norm=float(torch.linalg.matrix_norm(delta.detach().double())),
    )


def base_weight(model: nn.Module, update: LowRankUpdate) -> torch.Tensor:
    """The frozen W0 [out, in] (fp32) that ``update`` adapts: its slice of a fused q|k|v projection,
    transposed from GPT-2's Conv1D [in, out] layout, read from the model the update came from."""
    layer = model.get_submodule(update.module)
    if not isinstance(layer, (LoRALinear, LoRAFusedLinear)):
        raise ValueError(f"{update.module} is not a LoRA layer of this model ({type(layer).__name__})")
    if layer.merged:
        raise ValueError(f"{update.module} is merged (W0 + ΔW): unmerge the model before reading W0")
    w = layer.base_layer.weight.detach().float()
    w = w.T if layer.conv1d else w  # [out, in]
    if isinstance(layer, LoRAFusedLinear):
        k = layer.slice_names.index(update.target)
        rows = layer.lora_index[k * layer.d_slice : (k + 1) * layer.d_slice]
        w = w[rows]
    return w.clone()
