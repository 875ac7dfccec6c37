"""Table 7's quantities on hand-built matrices whose answers are known by hand."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import tiny_gpt2, tiny_roberta

from lora_repro import apply_method
from lora_repro.analysis import base_weight, lora_updates, projection_norm, table7_column, top_directions


def test_table7_column_on_a_diagonal_W_and_a_rank_one_update():
    """W = diag(10, 5, 2, 1); ΔW = 3·e2 e2ᵀ (the second axis, which W holds with weight 5).

    U, V of ΔW at r = 1 are ±e2: ||Uᵀ W V|| = 5. W's own top direction gives 10; ||W||_F = √130;
    ||ΔW||_F = 3; amplification 3/5."""
    W = torch.diag(torch.tensor([10.0, 5.0, 2.0, 1.0]))
    delta = torch.zeros(4, 4)
    delta[1, 1] = 3.0
    col = table7_column(W, delta, r=1)
    assert col.proj_delta == pytest.approx(5.0)
    assert col.proj_w == pytest.approx(10.0)
    assert col.w_norm == pytest.approx(math.sqrt(130))
    assert col.delta_norm == pytest.approx(3.0)
    assert col.amplification == pytest.approx(0.6)
    assert 0 < col.proj_random < math.sqrt(130)


def test_an_update_on_directions_W_lacks_is_amplified_strongly():
    """ΔW = 2·(e4 e4ᵀ + e3 e3ᵀ) at r = 2: W holds those axes with 1 and 2, so ||Uᵀ W V|| = √5, and the
    amplification is ||ΔW||_F/√5 = √8/√5; W's top two give √(100 + 25)."""
    W = torch.diag(torch.tensor([10.0, 5.0, 2.0, 1.0]))
    delta = torch.diag(torch.tensor([0.0, 0.0, 2.0, 2.0]))
    col = table7_column(W, delta, r=2)
    assert col.proj_delta == pytest.approx(math.sqrt(5))
    assert col.proj_w == pytest.approx(math.sqrt(125))
    assert col.amplification == pytest.approx(math.sqrt(8) / math.sqrt(5))


def test_a_rectangular_W_uses_left_and_right_directions():
    """W [3, 5] with W[0, 4] = 7: ΔW = e0 e4ᵀ projects it onto exactly that entry."""
    W = torch.zeros(3, 5)
    W[0, 4], W[1, 0] = 7.0, 9.0
    delta = torch.zeros(3, 5)
    delta[0, 4] = 0.5
    U, V = top_directions(delta, 1)
    assert U.shape == (3, 1) and V.shape == (5, 1)
    assert projection_norm(W, U, V) == pytest.approx(7.0)
    assert table7_column(W, delta, 1).proj_w == pytest.approx(9.0)


def test_bad_shapes_and_ranks_are_refused():
    with pytest.raises(ValueError, match="r=5 out of range"):
        top_directions(torch.zeros(4, 4), 5)
    with pytest.raises(ValueError, match="differ in shape"):
        table7_column(torch.zeros(4, 4), torch.zeros(4, 3), 1)


def test_base_weight_is_the_q_slice_of_gpt2s_fused_conv1d():
    model = tiny_gpt2()
    c_attn = model.transformer.h[1].attn.c_attn.weight.detach().clone()  # Conv1D [in, out = 3d]
    apply_method(model, "lora", r=2, targets=["q", "v"])
    ups = {(u.block, u.target): u for u in lora_updates(model)}
    d = c_attn.shape[0]
    torch.testing.assert_close(base_weight(model, ups[(1, "q")]), c_attn[:, :d].T)
    torch.testing.assert_close(base_weight(model, ups[(1, "v")]), c_attn[:, 2 * d :].T)


def test_base_weight_of_an_unfused_linear():
    model = tiny_roberta()
    w = model.roberta.encoder.layer[0].attention.self.query.weight.detach().clone()
    apply_method(model, "lora", r=2, targets=["q"])
    torch.testing.assert_close(base_weight(model, lora_updates(model)[0]), w)
