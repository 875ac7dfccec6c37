"""The GPT-3 arithmetic reproduces §4.2's 1.2 TB, 350 GB, 35 MB and ~10,000x under the stated assumptions."""

from __future__ import annotations

import pytest

from lora_repro.bench.memory import ASSUMPTIONS, GB, MB, TB, TIB, Counts, claims, training_bytes

# lora-repro params model=gpt3-175b method=ft / method=lora method.r=4 'method.targets=[q,v]'
# (tests/methods/test_params_table.py holds these counts against the paper's Table 4)
N, N_LORA = 174_604_259_328, 18_874_368
GPT3 = Counts(total=N, ft=N, lora=N_LORA)


def test_every_claim_is_reproduced_under_the_default_assumption():
    rows = claims(GPT3, "fp16")
    assert [r["claim"] for r in rows][:4] == [
        "training VRAM, FT", "training VRAM, LoRA", "checkpoint, FT (fp16 weights)",
        "checkpoint, LoRA r=4 W_q, W_v (fp16)",
    ]  # fmt: skip
    assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]


def test_the_numbers_behind_the_claims():
    ft = sum(training_bytes(N, N, "fp16").values())
    lora = sum(training_bytes(N, N_LORA, "fp16").values())
    assert ft == 8 * N and round(ft / TB, 2) == 1.40 and int(ft / TIB * 10) / 10 == 1.2
    assert round(lora / GB) == 349 and round(lora / GB, -1) == 350  # 350 GB: the fp16 weights
    assert round(2 * N / GB, -1) == 350  # the FT checkpoint
    assert 2 * N_LORA == 37_748_736 and round(2 * N_LORA / MB, 1) == 37.7  # 36.0 MiB, "35 MB"
    assert round(N / N_LORA) == 9251  # "roughly 10,000x"


@pytest.mark.parametrize(("name", "per_param"), [("fp16", 8), ("fp16-no-grad", 6), ("mixed", 16)])
def test_bytes_per_trained_parameter_of_each_assumption(name, per_param):
    parts = training_bytes(1000, 1000, name)
    assert sum(parts.values()) == per_param * 1000
    frozen = training_bytes(1000, 0, name)
    assert sum(frozen.values()) == 2 * 1000  # frozen weights: fp16, nothing else
    assert name in ASSUMPTIONS


def test_unknown_assumption_is_refused():
    with pytest.raises(ValueError, match="allowed: fp16"):
        training_bytes(1, 1, "int8")
