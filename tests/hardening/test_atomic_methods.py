"""apply_method and load_adapter are atomic: on any error the model is exactly as it was.

Same modules, hooks, requires_grad flags and weights; the error names the bad option or the file.
Options are validated first: an integer option given 1.5 or "abc", alpha 0, dropout 1 are refused.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from tiny_models import tiny_gpt2, tiny_roberta

from lora_repro import apply_method, load_adapter, save_adapter
from lora_repro.methods.base import RECORD_ATTR
from lora_repro.methods.lora import LoRALinear


def state(model: torch.nn.Module) -> dict:
    """Everything a failed call must leave as it was."""
    return {
        "modules": [(n, type(m).__name__) for n, m in model.named_modules()],
        "grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "weights": {n: p.detach().clone() for n, p in model.named_parameters()},
        "hooks": [(n, len(m._forward_pre_hooks), len(m._forward_hooks)) for n, m in model.named_modules()],
        "record": getattr(model, RECORD_ATTR, None),
    }


def same(a: dict, b: dict) -> bool:
    weights_equal = a["weights"].keys() == b["weights"].keys() and all(
        torch.equal(a["weights"][k], b["weights"][k]) for k in a["weights"]
    )
    return weights_equal and all(a[k] == b[k] for k in ("modules", "grad", "hooks", "record"))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"r": 1.5}, r"lora: r must be a positive integer \(>= 1\), got 1.5 \(a float\)"),
        ({"r": "abc"}, r"lora: r must be a positive integer \(>= 1\), got 'abc' \(a str\)"),
        ({"r": True}, r"lora: r must be a positive integer"),
        ({"alpha": 0}, r"lora: alpha must be a number > 0, got 0"),
        ({"alpha": float("nan")}, r"lora: alpha must be a number > 0, got nan"),
        ({"dropout": 1.0}, r"lora: dropout must be a number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, r"lora: dropout must be a number in \[0, 1\)"),
        ({"targets": 5}, r"lora: targets must be a name or a list of names, got 5"),
        ({"rank": 4}, r"unknown option\(s\) \['rank'\]; allowed: \['r', 'alpha'"),
    ],
)
def test_bad_api_options_are_refused_before_the_model_changes(options, message):
    model = tiny_roberta()
    before = state(model)
    with pytest.raises(ValueError, match=message):
        apply_method(model, "lora", **options)
    assert same(state(model), before)


def test_prefix_and_adapter_options_are_checked_too():
    with pytest.raises(ValueError, match=r"preembed: l_p must be a non-negative integer \(>= 0\), got 2.5"):
        apply_method(tiny_gpt2(), "preembed", l_p=2.5, l_i=2)
    with pytest.raises(ValueError, match="adapter_h: bottleneck r must be a positive integer"):
        apply_method(tiny_gpt2(), "adapter_h", r="8")


def test_apply_method_that_fails_half_way_leaves_the_model_as_it_was():
    model = tiny_roberta()
    # block 1's query already wrapped by hand: injection succeeds on block 0, then fails on block 1
    layer = model.roberta.encoder.layer[1].attention.self
    layer.query = LoRALinear(layer.query, r=2, alpha=2, dropout=0.0)
    before = state(model)
    with pytest.raises(ValueError, match="already has LoRA"):
        apply_method(model, "lora", r=4, targets=["q", "v"])
    assert same(state(model), before)
    assert not isinstance(model.roberta.encoder.layer[0].attention.self.query, LoRALinear)
    assert all(p.requires_grad for p in model.parameters())  # nothing was frozen


def test_a_failed_prefix_injection_leaves_no_hooks():
    model = tiny_gpt2()
    before = state(model)
    with pytest.raises(ValueError, match="leaves no room"):
        apply_method(model, "prelayer", l_p=10_000, l_i=0)
    assert same(state(model), before)


@pytest.fixture
def adapter(tmp_path):
    model = apply_method(tiny_roberta(), "lora", r=4, targets=["q", "v"])
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.add_(0.5)
    return save_adapter(model, tmp_path / "adapter")


def test_load_adapter_with_a_shape_mismatch_changes_nothing(adapter):
    cfg_file = adapter / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["lora_repro"]["methods"][0]["options"]["r"] = 2  # the config says r=2, the weights are r=4
    cfg["r"] = 2
    cfg_file.write_text(json.dumps(cfg))
    model = tiny_roberta()
    before = state(model)
    with pytest.raises(
        ValueError, match=r"adapter_model.safetensors: .*adapter shape \(4, 32\) != model \(2, 32\)"
    ):
        load_adapter(model, adapter)
    assert same(state(model), before)


@pytest.mark.parametrize("what", ["weights", "config"])
def test_load_adapter_from_a_truncated_file_names_it_and_changes_nothing(adapter, what):
    name = "adapter_model.safetensors" if what == "weights" else "adapter_config.json"
    os.truncate(adapter / name, 40)
    model = tiny_roberta()
    before = state(model)
    with pytest.raises(ValueError, match=f"{adapter / name} is damaged") as err:
        load_adapter(model, adapter)
    assert "\n" not in str(err.value)
    assert same(state(model), before)


def test_a_good_adapter_still_loads(adapter):
    model = load_adapter(tiny_roberta(), adapter)
    b = [p for n, p in model.named_parameters() if n.endswith("lora_B")]
    assert b and all(torch.all(p == 0.5) for p in b)
