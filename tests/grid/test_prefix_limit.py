"""``max_prefix`` in a table spec's ``profiles:`` block: prefix rows whose virtual tokens leave no room
for the profile's input and output in the model's positions are skipped, and the title says so."""

from __future__ import annotations

import pytest
import torch
import yaml

from lora_repro.grid.profile_spec import for_profile, io_budget, model_positions
from lora_repro.methods.prefix import PrefixTuning
from lora_repro.tables.spec import load_spec, parse_spec


def test_tiny_table15_skips_only_prefixembed_512_and_says_why():
    assert model_positions("gpt3-175b", "tiny") == 512  # configs/model/gpt3-175b.yaml tiny.hf_config
    assert model_positions("gpt3-175b", "paper") == 2048
    assert io_budget("tiny") == (96, 40)  # configs/profile/tiny.yaml: train.max_length, max_new_tokens
    full = load_spec("15")
    tiny = for_profile(full, "tiny")
    gone = [r.label for r in full.rows if r not in tiny.rows]
    assert gone == ["PrefixEmbed l_p=512, l_i=8"]
    assert len(tiny.rows) == len(full.rows) - 1 == 29
    assert tiny.title.endswith(
        "[PrefixEmbed l_p=512, l_i=8 skipped: l_p + l_i > 376 (tiny positions 512 - input 96 - output 40)]"
    )
    assert "PrefixEmbed l_p=256, l_i=8" in [r.label for r in tiny.rows]  # 264 virtual tokens fit
    paper = for_profile(full, "paper")
    assert len(paper.rows) == 30 and "skipped" not in paper.title


def test_the_skipped_row_is_one_the_prefix_module_would_refuse():
    # the rule matches the method's own check: 520 virtual + 96 input + 40 output > 512 positions
    def prefix(l_p: int, l_i: int) -> PrefixTuning:
        return PrefixTuning(l_p, l_i, d=8, n_layers=0, decoder=True, max_positions=512, like=torch.zeros(1))

    with pytest.raises(ValueError, match=r"exceeds the model's 512 positions"):
        big = prefix(512, 8)
        big.check_length(big.n_virtual + 96 + 40)
    ok = prefix(256, 8)
    ok.check_length(ok.n_virtual + 96 + 40)  # 400 <= 512: no error


def _spec(tmp_path, tiny_block):
    raw = {
        "table": 97, "title": "t", "columns": [{"key": "MNLI_m", "task": "mnli"}],
        "rows": [
            {"label": f"pe{l_p}", "model": "gpt3-175b", "method": {"name": "preembed", "l_p": l_p, "l_i": 8}}
            for l_p in (16, 64, 256)
        ] + [{"label": "lora", "model": "gpt3-175b", "method": {"name": "lora", "r": 8}}],
        "profiles": {"tiny": tiny_block},
    }  # fmt: skip
    path = tmp_path / "table97.yaml"
    path.write_text(yaml.safe_dump(raw))
    return parse_spec(raw, path)


def test_an_integer_max_prefix_caps_l_p_plus_l_i(tmp_path):
    tiny = for_profile(_spec(tmp_path, {"max_prefix": 72}), "tiny")
    assert [r.label for r in tiny.rows] == ["pe16", "pe64", "lora"]  # 24 and 72 fit, 264 does not
    assert tiny.title == "t [pe256 skipped: l_p + l_i above max_prefix 72]"


@pytest.mark.parametrize("bad", [0, -3, "width", True])
def test_a_bad_max_prefix_is_refused_naming_it(tmp_path, bad):
    with pytest.raises(ValueError, match=r"max_prefix must be 'positions' or a positive integer, got"):
        for_profile(_spec(tmp_path, {"max_prefix": bad}), "tiny")
