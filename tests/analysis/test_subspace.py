"""φ(A, B, i, j): 1 for a subspace with itself, 0 for orthogonal ones, max(i, j)/d for random ones."""

from __future__ import annotations

import pytest
import torch

from lora_repro.analysis import (
    expected_random_phi,
    phi,
    phi_grid,
    random_baseline,
    right_singular,
    subspace_similarity,
)


def orthogonal(d: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q


def with_right_singular(Q: torch.Tensor, values: list[float]) -> torch.Tensor:
    """A [r, d] whose right-singular vectors are Q's first r columns, in that order."""
    return torch.diag(torch.tensor(values, dtype=torch.float64)) @ Q[:, : len(values)].T


def test_a_subspace_with_itself_is_one_for_every_i_and_j():
    U = orthogonal(20)[:, :8]
    grid = phi_grid(U, U, 8, 8)
    torch.testing.assert_close(grid, torch.ones(8, 8, dtype=torch.float64))  # nested: top-i inside top-j
    assert phi(U, U, 3, 3) == pytest.approx(1.0)


def test_orthogonal_subspaces_are_zero():
    Q = orthogonal(20, seed=1)
    assert phi(Q[:, :4], Q[:, 4:12], 4, 8) == pytest.approx(0.0, abs=1e-12)
    assert float(phi_grid(Q[:, :4], Q[:, 4:12], 4, 8).abs().max()) < 1e-12


def test_a_shared_top_direction_gives_one_at_1_1_and_half_when_one_more_differs():
    Q = orthogonal(16, seed=2)
    A8 = with_right_singular(Q, [8, 7, 6, 5, 4, 3, 2, 1])  # directions q0..q7
    cols = torch.cat([Q[:, :1], Q[:, 8:15]], dim=1)  # q0, then q8..q14: only q0 shared
    A_b = torch.diag(torch.arange(8, 0, -1, dtype=torch.float64)) @ cols.T
    grid = subspace_similarity(A8, A_b, 8, 8)
    assert grid[0, 0] == pytest.approx(1.0)  # top directions agree
    assert grid[1, 1] == pytest.approx(0.5)  # {q0, q1} vs {q0, q8}: one of two shared
    assert grid[7, 7] == pytest.approx(1 / 8)


def test_phi_does_not_depend_on_the_scale_or_sign_of_A():
    g = torch.Generator().manual_seed(3)
    A, B = torch.randn(4, 30, generator=g), torch.randn(6, 30, generator=g)
    torch.testing.assert_close(subspace_similarity(A, B, 4, 6), subspace_similarity(-5 * A, 0.1 * B, 4, 6))


def test_right_singular_vectors_are_orthonormal_columns_of_the_input_space():
    A = torch.randn(5, 40)
    V = right_singular(A)
    assert V.shape == (40, 5)
    torch.testing.assert_close(V.T @ V, torch.eye(5, dtype=torch.float64))


def test_random_subspaces_give_max_i_j_over_d_within_0_01():
    """i = 8, j = 64 in d = 512: E[φ] = 64/512 = 0.125; one draw's std is about 0.008, the mean of 10 draws
    about 0.0025, so 0.01 is four standard deviations."""
    d = 512
    draws = [float(random_baseline(8, 64, d, 8, 64, seed=2 * s)[7, 63]) for s in range(10)]
    assert sum(draws) / len(draws) == pytest.approx(64 / d, abs=0.01)
    assert expected_random_phi(8, 64, d) == 0.125 and expected_random_phi(64, 8, d) == 0.125


def test_random_baseline_is_large_at_toy_width():
    """At the stand-in's width 96, random subspaces of 8 and 64 directions already give φ ≈ 2/3."""
    draws = [float(random_baseline(8, 64, 96, 8, 64, seed=2 * s)[7, 63]) for s in range(10)]
    assert sum(draws) / len(draws) == pytest.approx(64 / 96, abs=0.03)


@pytest.mark.parametrize(
    ("i", "j", "match"), [(0, 1, "i=0 out of range"), (9, 1, "i=9 out of range"), (1, 7, "j=7 out of range")]
)
def test_out_of_range_i_or_j_is_one_clear_error(i, j, match):
    U = orthogonal(10)
    with pytest.raises(ValueError, match=match):
        phi(U[:, :8], U[:, :6], i, j)


def test_adapters_of_different_widths_are_refused():
    with pytest.raises(ValueError, match="different input widths"):
        subspace_similarity(torch.randn(2, 10), torch.randn(2, 12), 2, 2)
