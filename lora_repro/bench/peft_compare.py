"""``lora-repro bench peft [models=roberta-base,opt-125m layers=N trials=N warmup=N device=auto out=DIR]``:
our LoRA against PEFT's on identical math, a training step and an unmerged forward pass.

Both sides are the same model with LoRA r = 8, alpha = 16 on W_q and W_v, no dropout, and the same
values in every A and B (ours are copied into PEFT's ``lora_A.default`` / ``lora_B.default``, B drawn
non-zero so the low-rank path computes something): RoBERTa-base's widths (sequence classification,
the classifier head trains on both sides: ``modules_to_save``) and OPT-125m's (causal LM), each with
``layers`` blocks (CPU default 2; GPU: the full 12). What is timed, interleaved round by round in this
process: a training step (forward, backward, AdamW step) and a forward pass in eval mode with no
gradient, LoRA unmerged. Reported: the per-round ratio ours / PEFT (mean and 95% CI) beside the
absolute times; issue 18's bar is at most 1.00x. Writes peft.{md,csv} to results/<device>/.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from lora_repro.bench.report import (
    Provenance,
    command_line,
    fmt_ci,
    markdown_table,
    model_options,
    progress,
    results_dir,
    write_csv,
    write_markdown,
)
from lora_repro.bench.timing import interleaved
from lora_repro.bench.train_cost import verdict
from lora_repro.bench.variants import TEST_VOCAB, randomize_lora, roberta_base, trainable
from lora_repro.methods import apply_method

R, ALPHA = 8, 16.0
# model -> (batch size, sequence length, full depth, PEFT's target module names)
SHAPES = {
    "roberta-base": (8, 128, 12, ["query", "value"]),
    "opt-125m": (4, 128, 12, ["q_proj", "v_proj"]),
}
OWN = {"models": "roberta-base,opt-125m", "layers": None, "trials": None, "warmup": 2, "device": "auto",
       "out": None, "seed": 0, "width": None}  # fmt: skip
TARGET = 1.00  # ours / PEFT, issue 18


def opt_125m(layers: int, seed: int = 0, width: int | None = None) -> nn.Module:
    """OPT-125m's widths (d 768, 12 heads, FFN 3072, vocabulary 50272) with ``layers`` blocks, random weights."""
    from transformers import OPTConfig, OPTForCausalLM

    if layers < 1:
        raise ValueError(f"layers={layers!r}: OPT-125m benchmarks need 1 to 12 layers")
    d = width or 768
    cfg = OPTConfig(hidden_size=d, word_embed_proj_dim=d, ffn_dim=4 * d, num_attention_heads=max(1, d // 64),
                    num_hidden_layers=layers, vocab_size=TEST_VOCAB if width else 50272, dropout=0.0,
                    attention_dropout=0.0)  # fmt: skip
    torch.manual_seed(seed)
    return OPTForCausalLM(cfg)


def base_model(name: str, layers: int, seed: int = 0, width: int | None = None) -> nn.Module:
    if name not in SHAPES:
        raise ValueError(f"unknown peft-bench model {name!r}; allowed: {', '.join(SHAPES)}")
    if name == "opt-125m":
        return opt_125m(layers, seed, width)
    narrow = {}
    if width:
        narrow = {"hidden_size": width, "num_attention_heads": max(1, width // 64),
                  "intermediate_size": 4 * width, "vocab_size": TEST_VOCAB}  # fmt: skip
    return roberta_base(layers, seed=seed, **narrow)


def pair(
    name: str, layers: int, device: str, seed: int = 0, width: int | None = None
) -> dict[str, nn.Module]:
    """``{"ours": ..., "peft": ...}``: the same base, LoRA r=8 on W_q, W_v, the same A and B on both sides."""
    import peft

    base = base_model(name, layers, seed, width)
    ours = apply_method(copy.deepcopy(base), "lora", r=R, alpha=ALPHA, targets=["q", "v"], dropout=0.0)
    randomize_lora(ours, seed + 1)
    cfg = peft.LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=SHAPES[name][3],
                          modules_to_save=["classifier"] if name == "roberta-base" else None)  # fmt: skip
    theirs = peft.get_peft_model(copy.deepcopy(base), cfg)
    copy_lora_weights(ours, theirs)
    return {"ours": ours.to(device), "peft": theirs.to(device)}


def copy_lora_weights(ours: nn.Module, theirs: nn.Module) -> int:
    """Copy every ``<module>.lora_A`` / ``lora_B`` of ours into PEFT's ``<module>.lora_A.default.weight``."""
    mine = {n: p for n, p in ours.named_parameters() if n.endswith((".lora_A", ".lora_B"))}
    found = 0
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if ".lora_A.default." in name or ".lora_B.default." in name:
                key = name.removeprefix("base_model.model.").replace(".default.weight", "")
                if key not in mine or mine[key].shape != p.shape:
                    raise RuntimeError(
                        f"PEFT parameter {name} has no counterpart of shape {tuple(p.shape)} in ours"
                    )
                p.copy_(mine[key])
                found += 1
    if found != len(mine):
        raise RuntimeError(f"copied {found} LoRA tensors into PEFT, ours has {len(mine)}")
    return found


def batch(model: nn.Module, name: str, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    bs, seq = SHAPES[name][:2]
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, model.config.vocab_size, (bs, seq), generator=gen)
    labels = torch.randint(0, 3, (bs,), generator=gen) if name == "roberta-base" else ids
    return {"input_ids": ids.to(device), "labels": labels.to(device)}


def train_step(model: nn.Module, data: dict[str, torch.Tensor]):
    """forward, backward, AdamW step, zero_grad (lr 0: the weights, so every later round, stay the same)."""
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.0)

    def step() -> None:
        model(**data).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def forward(model: nn.Module, data: dict[str, torch.Tensor]):
    """One forward pass, eval mode, no gradient, LoRA unmerged."""

    def run() -> None:
        model.eval()
        with torch.no_grad():
            model(input_ids=data["input_ids"])

    return run


def options(argv: list[str]) -> dict[str, Any]:
    return model_options(argv, OWN, "peft", SHAPES, count=("trials", 8, 50))


def measure(opts: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in opts["models"]:
        bs, seq, depth, _ = SHAPES[name]
        layers = (
            int(opts["layers"]) if opts["layers"] is not None else (2 if opts["device"] == "cpu" else depth)
        )
        models = pair(name, layers, opts["device"], int(opts["seed"]), opts["width"])
        data = batch(models["ours"], name, opts["device"], int(opts["seed"]))
        progress(f"peft {name}: {layers} layer(s), bs {bs}, seq {seq}: {opts['trials']} rounds x 2 x 2")
        for what, make in (("train step", train_step), ("forward (unmerged)", forward)):
            timing = interleaved({k: make(m, data) for k, m in models.items()}, opts["trials"], opts["warmup"],
                                 opts["device"], desc=f"peft {name} {what}")  # fmt: skip
            ratio, ci = timing.ratio("ours", "peft")
            row = {"model": name, "measure": what, "layers": layers, "batch_size": bs, "seq_len": seq,
                   "trainable_ours": trainable(models["ours"]), "trainable_peft": trainable(models["peft"]),
                   "ours_ms": timing.ms("ours")[0], "ours_ci95_ms": timing.ms("ours")[1],
                   "peft_ms": timing.ms("peft")[0], "peft_ci95_ms": timing.ms("peft")[1],
                   "ours_over_peft": ratio, "ours_over_peft_ci95": ci, "trials": opts["trials"]}  # fmt: skip
            rows.append(row)
        del models
    return rows


def render(rows: list[dict[str, Any]]) -> list[str]:
    grid = [
        ["model", "measure", "|Θ| ours / PEFT", "ours ms", "PEFT ms", "ours / PEFT", f"at most {TARGET:.2f}x"]
    ]
    for r in rows:
        grid.append([r["model"], r["measure"], f"{r['trainable_ours']:,} / {r['trainable_peft']:,}",
                     fmt_ci(r["ours_ms"], r["ours_ci95_ms"]), fmt_ci(r["peft_ms"], r["peft_ci95_ms"]),
                     fmt_ci(r["ours_over_peft"], r["ours_over_peft_ci95"], 3),
                     verdict(r["ours_over_peft"], r["ours_over_peft_ci95"], TARGET)])  # fmt: skip
    return markdown_table(grid)


def main(argv: list[str]) -> int:
    opts = options(argv)
    prov = Provenance(command_line("peft", argv))
    rows = measure(opts)
    notes = [
        f"LoRA r={R}, alpha={ALPHA:g} on W_q, W_v, no dropout, on both sides with the same A and B values "
        "(copied from ours into PEFT's; the two models' logits are equal, tests/bench/test_peft_compare.py). "
        "RoBERTa-base: sequence classification, the classifier head trains on both sides; OPT-125m: causal LM. "
        f"Each model at its real widths with `layers` blocks; {opts['trials']} rounds after {opts['warmup']} "
        "warm-up, ours and PEFT interleaved in one process; ± is a 95% CI; `ours / PEFT` is the mean of "
        "the per-round ratios. PEFT's version: " + _peft_version() + ".",
    ]
    lines = prov.header("Our LoRA against PEFT's, identical math", notes) + [""] + render(rows)
    out = results_dir(opts["out"], opts["device"])
    print(write_markdown(out / "peft.md", lines))
    print(write_csv(out / "peft.csv", rows, comment=prov.command))
    return 0


def _peft_version() -> str:
    import peft

    return str(peft.__version__)
