"""The open GPT-3-class model files: real dimensions for counting, tiny stand-ins that train and generate."""

from __future__ import annotations

import pytest
import torch

from lora_repro import apply_method, count_parameters
from lora_repro.models.build import build_model, model_config

OPEN = ["opt-66b", "opt-175b", "bloom-176b", "gpt-neox-20b"]


@pytest.mark.parametrize(
    "name,total",
    [
        ("opt-66b", 65_719_701_504),  # facebook/opt-66b's published size (66B)
        ("bloom-176b", 176_247_271_424),  # bigscience/bloom's model card: 176,247,271,424
        ("gpt-neox-20b", 20_554_567_680),  # EleutherAI/gpt-neox-20b: 20,554,567,680
    ],
)
def test_real_dimensions(name, total):
    assert count_parameters(build_model(name, device="meta"))["total"] == total


def test_opt_175b_has_gpt3_dimensions():
    """Same d, L, heads and d_ff as GPT-3, so every per-block count equals GPT-3's."""
    for method, opts in [("adapter_h", {"r": 8}), ("prelayer", {"l_p": 8, "l_i": 8}), ("lora", {"r": 4})]:
        counts = [
            count_parameters(apply_method(build_model(m, device="meta"), method, **opts))["adapter"]
            for m in ("opt-175b", "gpt3-175b")
        ]
        assert counts[0] == counts[1], method


@pytest.mark.parametrize("name", OPEN)
def test_tiny_stand_in_trains_and_generates(name):
    cfg = model_config(name)
    assert cfg["kind"] == "decoder" and "tiny" in cfg
    torch.manual_seed(0)
    over = {
        **cfg["tiny"]["hf_config"],
        "vocab_size": 120,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    model = build_model(name, device="cpu", overrides=over).eval()
    apply_method(model, "lora_pl", r=2, l_p=2, l_i=2)
    ids = torch.randint(3, 120, (2, 7))
    loss = model(input_ids=ids, labels=ids, context_lengths=4).loss
    loss.backward()
    assert model.prefix_tuning.layers.grad is not None
    with torch.no_grad():
        gen = model.generate(input_ids=ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    assert gen.shape == (2, 10)
