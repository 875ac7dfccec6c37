"""Training-step time of LoRA against the frozen-backbone floor, full fine-tuning and PEFT's LoRA.

Run with ``make bench`` (or ``python -m benchmarks.run --layers 4 --steps 5``). Every variant runs
in this one process, interleaved round by round, on models of the real widths (RoBERTa-base,
GPT-2 medium) with fewer layers so a CPU run takes minutes; what is reported are ratios to the
frozen-backbone step (a step in which only a 1-parameter bias trains, so backward still runs through
every layer: the floor any adapter method can reach), plus the medians in ms.

DESIGN.md's bar: our LoRA step within 10% of the frozen floor's ratio that PEFT reaches (1.29x on
GPT-2 M measured with PEFT), and never slower than PEFT on identical math (RoBERTa q,v: the same
computation). On a busy machine the ratios are noisy: raise --steps.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from torch import nn

from lora_repro import apply_method


def _roberta(layers: int):
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(0)
    cfg = RobertaConfig(num_hidden_layers=layers, num_labels=3)  # roberta-base widths
    return RobertaForSequenceClassification(cfg)


def _gpt2(layers: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=1024, n_head=16, n_layer=layers))  # gpt2-medium widths


def _frozen(model: nn.Module) -> nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    # one trainable scalar at the input so backward runs through every layer, as for any adapter
    emb = model.get_input_embeddings()
    emb.weight.requires_grad_(False)
    model.bench_bias = nn.Parameter(torch.zeros(1))
    hook_owner = model

    def add_bias(_m, _inp, out):
        return out + hook_owner.bench_bias

    emb.register_forward_hook(add_bias)
    return model


def _peft_lora(model: nn.Module, targets: list[str], r: int) -> nn.Module:
    import peft

    return peft.get_peft_model(model, peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets))


def _step_fn(model: nn.Module, batch: dict[str, torch.Tensor]):
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)

    def step() -> None:
        out = model(**batch)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def bench(name: str, variants: dict[str, nn.Module], batch, steps: int, warmup: int = 2) -> None:
    fns = {k: _step_fn(m, batch) for k, m in variants.items()}
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(steps):  # interleaved: every variant sees the same machine load
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    floor = med["frozen"]
    print(f"\n{name}  (median of {steps} steps, ratio to the frozen-backbone step)")
    print(f"{'variant':<28}{'ms/step':>10}{'ratio':>8}")
    for k, v in med.items():
        print(f"{k:<28}{v * 1000:>10.1f}{v / floor:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()
    torch.manual_seed(0)

    base = _roberta(args.layers)
    ids = torch.randint(3, 1000, (8, args.seq))
    batch = {"input_ids": ids, "labels": torch.randint(0, 3, (8,))}
    bench(
        f"RoBERTa-base widths, {args.layers} layers, bs 8, seq {args.seq}",
        {
            "frozen": _frozen(copy.deepcopy(base)),
            "ft": copy.deepcopy(base),
            "lora q,v r=8 (ours)": apply_method(
                copy.deepcopy(base), "lora", r=8, alpha=16, targets=["q", "v"]
            ),
            "lora q,v r=8 (peft)": _peft_lora(copy.deepcopy(base), ["query", "value"], 8),
        },
        batch,
        args.steps,
    )

    base = _gpt2(args.layers)
    ids = torch.randint(0, 50000, (2, args.seq))
    batch = {"input_ids": ids, "labels": ids}
    bench(
        f"GPT-2 medium widths, {args.layers} layers, bs 2, seq {args.seq}",
        {
            "frozen": _frozen(copy.deepcopy(base)),
            "ft": copy.deepcopy(base),
            "lora q,v r=4 (ours, fused)": apply_method(
                copy.deepcopy(base), "lora", r=4, alpha=32, targets=["q", "v"]
            ),
            "lora q,k,v r=4 (peft c_attn)": _peft_lora(copy.deepcopy(base), ["c_attn"], 4),
        },
        batch,
        args.steps,
    )


if __name__ == "__main__":
    main()
