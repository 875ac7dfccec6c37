"""Saved adapters read for an analysis: one base model, the asked-for rank and targets, or one clear error."""

from __future__ import annotations

import pytest
import torch
from tiny_models import tiny_gpt2

from lora_repro import apply_method, save_adapter
from lora_repro.analysis import check_same_base, layer_index, model_depth, read_updates, update_at


def saved(tmp_path, name, base_seed=0, r=2, targets=("q", "v")):
    model = apply_method(tiny_gpt2(seed=base_seed), "lora", r=r, targets=list(targets))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.normal_()
    return save_adapter(model, tmp_path / name), model


def test_read_updates_gives_the_saved_factors_and_leaves_the_base_alone(tmp_path):
    path, trained = saved(tmp_path, "a", r=3)
    base = tiny_gpt2()
    model, ups = read_updates(base, path, rank=3, targets=["v", "q"])
    want = trained.transformer.h[1].attn.c_attn.lora_A.detach()[:3]  # q's slice comes first
    torch.testing.assert_close(update_at(ups, 1, "q").A, want)
    assert not any("lora" in n for n, _ in base.named_parameters())  # the base was copied, not changed
    assert model_depth(model) == 2


def test_an_adapter_of_another_base_model_is_refused(tmp_path):
    path, _ = saved(tmp_path, "a", base_seed=0)
    with pytest.raises(ValueError, match=r"trained on another base model \(fingerprint [0-9a-f]+"):
        read_updates(tiny_gpt2(seed=7), path)


def test_two_adapters_of_different_base_models_are_refused(tmp_path):
    a, _ = saved(tmp_path, "a", base_seed=0)
    b, _ = saved(tmp_path, "b", base_seed=1)
    check_same_base([a, saved(tmp_path, "c", base_seed=0)[0]])  # same base: fine
    with pytest.raises(ValueError, match="adapters come from different base models: .*a .* vs .*b "):
        check_same_base([a, b])


def test_an_adapter_of_another_rank_is_refused(tmp_path):
    path, _ = saved(tmp_path, "a", r=4)
    with pytest.raises(ValueError, match=r"adapter has LoRA rank r=4; this analysis needs r=8"):
        read_updates(tiny_gpt2(), path, rank=8)


def test_an_adapter_of_other_targets_is_refused(tmp_path):
    path, _ = saved(tmp_path, "a", targets=("q",))
    with pytest.raises(ValueError, match=r"adapts targets \['q'\]; this analysis needs targets \['q', 'v'\]"):
        read_updates(tiny_gpt2(), path, targets=["q", "v"])


def test_a_missing_adapter_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="adapter_config.json not found"):
        read_updates(tiny_gpt2(), tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("position", "n", "want"),
    [("first", 96, 0), ("third", 96, 31), ("middle", 96, 47), ("two_thirds", 96, 63), ("last", 96, 95),
     ("first", 6, 0), ("third", 6, 1), ("middle", 6, 2), ("two_thirds", 6, 3), ("last", 6, 5), (48, 96, 47)],
)  # fmt: skip
def test_layer_positions_are_the_papers_layers_at_gpt3_depth(position, n, want):
    assert layer_index(position, n) == want


def test_a_bad_layer_is_one_clear_error():
    with pytest.raises(ValueError, match=r"unknown layer 'centre'; allowed: \['first'"):
        layer_index("centre", 6)
    with pytest.raises(ValueError, match=r"layer 7 out of range; allowed 1..6"):
        layer_index(7, 6)
