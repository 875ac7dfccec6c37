"""Normalised subspace similarity (the paper's Section 7.2): how much two LoRA updates share.

For A ∈ R^{r×d} (LoRA's down-projection), SVD gives A = U Σ Vᵀ; the paper's "right-singular unitary
matrix" is V ∈ R^{d×r}, whose columns are directions of the model's input space, ordered by singular
value. For two such bases U_A, U_B::

    φ(A, B, i, j) = ||U_A^{i ⊤} U_B^{j}||_F² / min(i, j)  ∈ [0, 1]

with U^{i} the first i columns. φ = 1 when the smaller subspace lies inside the larger one, 0 when
they are orthogonal. Two independent uniformly random subspaces of dimensions i and j in R^d have
E[||P_iᵀ Q_j||_F²] = i·j/d, hence E[φ] = max(i, j)/d: the baseline is large when d is small
(``expected_random_phi``), which is why a figure always draws a random Gaussian pair beside.
"""

from __future__ import annotations

import torch


def right_singular(A: torch.Tensor) -> torch.Tensor:
    """The right-singular vectors of ``A`` [r, d] as columns of a [d, min(r, d)] matrix, top first."""
    if A.dim() != 2:
        raise ValueError(f"expected a 2-d matrix [r, d], got shape {tuple(A.shape)}")
    _, _, vh = torch.linalg.svd(A.detach().double(), full_matrices=False)
    return vh.T  # [d, k]


def left_singular(M: torch.Tensor) -> torch.Tensor:
    """The left-singular vectors of ``M`` [out, in] as columns of an [out, k] matrix, top first."""
    if M.dim() != 2:
        raise ValueError(f"expected a 2-d matrix, got shape {tuple(M.shape)}")
    u, _, _ = torch.linalg.svd(M.detach().double(), full_matrices=False)
    return u


def _check_basis(U: torch.Tensor, k: int, name: str, what: str) -> None:
    if U.dim() != 2:
        raise ValueError(f"{name}: expected a [d, k] basis, got shape {tuple(U.shape)}")
    if not 1 <= k <= U.shape[1]:
        raise ValueError(
            f"{what}={k} out of range: {name} has {U.shape[1]} directions; allowed 1..{U.shape[1]}"
        )


def phi(U_a: torch.Tensor, U_b: torch.Tensor, i: int, j: int) -> float:
    """φ = ||U_a[:, :i]ᵀ U_b[:, :j]||_F² / min(i, j) for orthonormal column bases of one space."""
    _check_basis(U_a, i, "U_a", "i")
    _check_basis(U_b, j, "U_b", "j")
    if U_a.shape[0] != U_b.shape[0]:
        raise ValueError(f"bases live in different spaces: {U_a.shape[0]} vs {U_b.shape[0]} dimensions")
    m = U_a[:, :i].double().T @ U_b[:, :j].double()
    return float((m**2).sum()) / min(i, j)


def phi_grid(U_a: torch.Tensor, U_b: torch.Tensor, i_max: int, j_max: int) -> torch.Tensor:
    """φ(i, j) for every 1 ≤ i ≤ i_max, 1 ≤ j ≤ j_max as an [i_max, j_max] float64 tensor.

    Entry [i-1, j-1] is φ(i, j) (the figures' row i, column j)."""
    _check_basis(U_a, i_max, "U_a", "i_max")
    _check_basis(U_b, j_max, "U_b", "j_max")
    if U_a.shape[0] != U_b.shape[0]:
        raise ValueError(f"bases live in different spaces: {U_a.shape[0]} vs {U_b.shape[0]} dimensions")
    m2 = (U_a[:, :i_max].double().T @ U_b[:, :j_max].double()) ** 2  # [i_max, j_max]
    cum = m2.cumsum(0).cumsum(1)  # cum[i-1, j-1] = ||U_a^iᵀ U_b^j||_F²
    i = torch.arange(1, i_max + 1, dtype=torch.float64)[:, None]
    j = torch.arange(1, j_max + 1, dtype=torch.float64)[None, :]
    return cum / torch.minimum(i, j)


def subspace_similarity(A_a: torch.Tensor, A_b: torch.Tensor, i_max: int, j_max: int) -> torch.Tensor:
    """φ(A_a, A_b, i, j) of two LoRA down-projections [r_a, d], [r_b, d] (Figures 3, 4, 6, 7)."""
    if A_a.shape[-1] != A_b.shape[-1]:
        raise ValueError(
            f"A matrices of different input widths: {tuple(A_a.shape)} vs {tuple(A_b.shape)} "
            "(adapters of different models?)"
        )
    return phi_grid(right_singular(A_a), right_singular(A_b), i_max, j_max)


def random_gaussian(rows: int, cols: int, seed: int) -> torch.Tensor:
    """A [rows, cols] matrix of i.i.d. N(0, 1) entries from its own generator (the random baseline)."""
    g = torch.Generator().manual_seed(int(seed))
    return torch.randn(rows, cols, generator=g, dtype=torch.float64)


def random_baseline(r_a: int, r_b: int, d: int, i_max: int, j_max: int, seed: int = 0) -> torch.Tensor:
    """φ between two random Gaussian matrices [r_a, d] and [r_b, d], as the figures draw beside."""
    return subspace_similarity(random_gaussian(r_a, d, seed), random_gaussian(r_b, d, seed + 1), i_max, j_max)


def expected_random_phi(i: int, j: int, d: int) -> float:
    """E[φ] of independent uniformly random i- and j-dimensional subspaces of R^d: max(i, j)/d."""
    if not (1 <= i <= d and 1 <= j <= d):
        raise ValueError(f"need 1 <= i, j <= d, got i={i}, j={j}, d={d}")
    return max(i, j) / d
