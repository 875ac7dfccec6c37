"""The task switch bench switches for real: after a switch the model computes the new task's LoRA."""

from __future__ import annotations

import copy

import torch

from lora_repro.bench.switch import setup
from lora_repro.methods import merge
from lora_repro.methods.io import load_trainable


def test_a_switch_serves_the_other_adapter_merged(tmp_path):
    switcher, _full, _file = setup({"layers": 1, "width": 64, "r": 4, "device": "cpu"}, tmp_path)
    model = switcher.model
    ids = torch.randint(0, 1000, (2, 12))
    reference = copy.deepcopy(model)
    for layer in reference.modules():  # an independent copy holding adapter b, unmerged
        if hasattr(layer, "merged") and layer.merged:
            layer.unmerge()
    load_trainable(reference, switcher.dirs[1], require="exact", check_base=False)
    with torch.no_grad():
        before = model(ids).logits
        want_b = reference(ids).logits  # unmerged forward: base + scaling * B A x
        switcher.next()  # a -> b
        got_b = model(ids).logits
        switcher.next()  # b -> a
        back = model(ids).logits
    assert (want_b - before).abs().max() > 1e-3  # the two tasks' adapters differ
    torch.testing.assert_close(got_b, want_b, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(back, before, atol=1e-4, rtol=1e-4)
    assert all(m.merged for m in model.modules() if hasattr(m, "merged"))
    merged_ref = merge(reference)
    with torch.no_grad():
        torch.testing.assert_close(merged_ref(ids).logits, want_b, atol=1e-4, rtol=1e-4)
