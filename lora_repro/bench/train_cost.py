"""``lora-repro bench train-cost [models=gpt2-medium,roberta-base layers=N steps=N warmup=N memory=true
device=auto out=DIR]``: tokens per second and peak memory of a training step, FT against LoRA and the floor.

Variants, on each model's real widths with ``layers`` blocks (CPU default 2; GPU: all of them):
``ft`` (every weight trains, AdamW), ``lora`` (W_q, W_v; GPT-2 M r=4 alpha=32 as Table 11, RoBERTa-base
r=8 alpha=16 as Table 9) and ``floor``: every weight frozen but one scalar at the input, so backward
still computes activation gradients through every layer and updates nothing else (the cheapest any
parameter-efficient method can be). Throughput: all variants interleaved step by step in this
process. Memory (``memory=true``): each variant in its own subprocess with the same flags, peak RSS
(``VmHWM``) on CPU, ``torch.cuda.max_memory_allocated`` on GPU, also net of the memory right after
the model is built. Writes train-cost.{md,csv} to results/<device>/.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from typing import Any

import torch

from lora_repro.bench import paper
from lora_repro.bench.report import (
    Provenance,
    command_line,
    markdown_table,
    model_options,
    progress,
    results_dir,
    write_csv,
    write_markdown,
)
from lora_repro.bench.timing import interleaved
from lora_repro.bench.variants import frozen_floor, gpt2_medium, narrow, roberta_base, trainable
from lora_repro.methods import apply_method

SHAPES = {  # model -> (batch size, sequence length, LoRA rank, alpha) ; full depth
    "gpt2-medium": (2, 128, 4, 32, 24),
    "roberta-base": (8, 128, 8, 16, 12),
}
VARIANTS = ("ft", "lora", "floor")
OWN = {"models": "gpt2-medium,roberta-base", "layers": None, "steps": None, "warmup": 2, "memory": True,
       "device": "auto", "out": None, "seed": 0, "width": None}  # fmt: skip


def build(
    model_name: str, variant: str, layers: int, device: str, width: int | None = None
) -> torch.nn.Module:
    """One training variant at the model's real widths (``width``: narrower, for tests)."""
    if model_name not in SHAPES:
        raise ValueError(f"unknown train-cost model {model_name!r}; allowed: {', '.join(SHAPES)}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown train-cost variant {variant!r}; allowed: {', '.join(VARIANTS)}")
    _, _, r, alpha, _ = SHAPES[model_name]
    if model_name == "gpt2-medium":
        model = gpt2_medium(layers, **narrow("gpt2", width))
    else:
        model = roberta_base(layers, **narrow("roberta", width))
    if variant == "lora":
        apply_method(model, "lora", r=r, alpha=alpha, targets=["q", "v"])
    elif variant == "floor":
        frozen_floor(model)
    return model.to(device).train()


def batch(model: torch.nn.Module, model_name: str, device: str, seed: int = 0) -> dict[str, torch.Tensor]:
    bs, seq = SHAPES[model_name][:2]
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, model.config.vocab_size, (bs, seq), generator=gen)
    labels = ids if model_name == "gpt2-medium" else torch.randint(0, 3, (bs,), generator=gen)
    return {"input_ids": ids.to(device), "labels": labels.to(device)}


def step_fn(model: torch.nn.Module, data: dict[str, torch.Tensor]):
    """forward, loss.backward(), AdamW step, zero_grad: one training step."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step() -> None:
        model(**data).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def proc_status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """The current resident set size."""
    now = proc_status_mb("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``5`` to /proc/self/clear_refs), so the peak is the steps'."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (``ru_maxrss`` on Linux carries the parent's peak across fork + exec)."""
    hwm = proc_status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_worker(spec: dict[str, Any]) -> dict[str, float]:
    """In a fresh process: build one variant, run ``steps`` steps, report memory in MiB."""
    torch.set_num_threads(int(spec.get("threads") or torch.get_num_threads()))
    device = spec["device"]
    model = build(spec["model"], spec["variant"], spec["layers"], device, spec.get("width"))
    data = batch(model, spec["model"], device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        loaded = torch.cuda.memory_allocated() / 2**20
    else:
        loaded = rss_mb()
        reset_peak_rss()
    step = step_fn(model, data)
    for _ in range(int(spec["steps"])):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = peak_rss_mb()
    return {"loaded_mb": loaded, "peak_mb": peak, "step_mb": peak - loaded, "trainable": trainable(model)}


def measure_memory(spec: dict[str, Any]) -> dict[str, float]:
    """:func:`memory_worker` in a subprocess (so that each variant's peak is its own)."""
    cmd = [sys.executable, "-m", "lora_repro.bench.train_cost", json.dumps(spec)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"train-cost memory worker {spec} failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def options(argv: list[str]) -> dict[str, Any]:
    return model_options(argv, OWN, "train-cost", SHAPES, count=("steps", 5, 30))


def measure(opts: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name in opts["models"]:
        bs, seq, r, alpha, depth = SHAPES[name]
        layers = (
            int(opts["layers"]) if opts["layers"] is not None else (2 if opts["device"] == "cpu" else depth)
        )
        models = {v: build(name, v, layers, opts["device"], opts["width"]) for v in VARIANTS}
        data = batch(models["ft"], name, opts["device"], int(opts["seed"]))
        progress(
            f"train-cost {name}: {layers} layer(s), bs {bs}, seq {seq}: {opts['steps']} steps x 3 variants"
        )
        timing = interleaved({v: step_fn(m, data) for v, m in models.items()}, opts["steps"], opts["warmup"],
                             opts["device"], desc=f"train-cost {name}")  # fmt: skip
        for v, model in models.items():
            mean, half = timing.ms(v)
            row = {"model": name, "variant": v, "layers": layers, "batch_size": bs, "seq_len": seq,
                   "trainable": trainable(model), "ms_per_step": mean, "ci95_ms": half,
                   "tokens_per_s": bs * seq / (mean / 1e3), "time_vs_floor": timing.ratio(v, "floor")[0],
                   "time_vs_floor_ci95": timing.ratio(v, "floor")[1], "time_vs_ft": timing.ratio(v, "ft")[0]}  # fmt: skip
            if opts["memory"]:
                spec = {"model": name, "variant": v, "layers": layers, "device": opts["device"],
                        "steps": 2, "width": opts["width"], "threads": torch.get_num_threads()}  # fmt: skip
                row.update(measure_memory(spec))
            rows.append(row)
        del models
    return rows


def verdict(value: float, ci: float, target: float) -> str:
    """met / MISSED by how much, or within noise when the 95% CI straddles the target."""
    if value - ci <= target < value + ci:
        return f"{'met' if value <= target else 'missed'} within noise (the 95% CI straddles {target:.2f})"
    return "met" if value <= target else f"MISSED by {value - target:.2f}"


def render(rows: list[dict[str, Any]], opts: dict[str, Any]) -> list[str]:
    head = ["model", "variant", "trainable", "ms/step", "tokens/s", "time / floor", "time / FT"]
    if opts["memory"]:
        head += ["peak MiB", "step MiB (peak - loaded)"]
    grid = [head]
    for r in rows:
        cells = [r["model"], r["variant"], f"{r['trainable']:,}", f"{r['ms_per_step']:.1f}±{r['ci95_ms']:.1f}",
                 f"{r['tokens_per_s']:.0f}", f"{r['time_vs_floor']:.2f}±{r['time_vs_floor_ci95']:.2f}",
                 f"{r['time_vs_ft']:.2f}"]  # fmt: skip
        if opts["memory"]:
            cells += [f"{r['peak_mb']:.0f}", f"{r['step_mb']:.0f}"]
        grid.append(cells)
    lines = markdown_table(grid) + [""]
    paper_speed = paper.GPT3_TOKENS_PER_S["lora"] / paper.GPT3_TOKENS_PER_S["ft"]
    for name in dict.fromkeys(r["model"] for r in rows):
        by = {r["variant"]: r for r in rows if r["model"] == name}
        ft, lo = by["ft"], by["lora"]
        line = (
            f"{name}: LoRA tokens/s {lo['tokens_per_s'] / ft['tokens_per_s']:.2f}x FT's (paper, GPT-3 175B "
            f"on V100s: {paper.GPT3_TOKENS_PER_S['lora']} / {paper.GPT3_TOKENS_PER_S['ft']} = {paper_speed:.2f}x); "
            f"LoRA step {lo['time_vs_floor']:.2f}±{lo['time_vs_floor_ci95']:.2f}x the floor's (target at most "
            f"1.10x: {verdict(lo['time_vs_floor'], lo['time_vs_floor_ci95'], 1.10)})"
        )
        if opts["memory"]:
            line += (f"; peak memory FT / LoRA {ft['peak_mb'] / lo['peak_mb']:.2f}x, step memory FT / LoRA "
                     f"{ft['step_mb'] / max(lo['step_mb'], 1e-9):.2f}x (paper, GPT-3 175B VRAM: 1.2TB / 350GB = 3.4x)")  # fmt: skip
        lines.append(line + ".")
    return lines


def main(argv: list[str]) -> int:
    opts = options(argv)
    prov = Provenance(command_line("train-cost", argv))
    rows = measure(opts)
    notes = [
        f"Each model at its real widths with few layers (column `layers` of the CSV); {opts['steps']} steps "
        f"after {opts['warmup']} warm-up, the three variants interleaved; ± is a 95% CI. Times include AdamW's step. "
        "Memory: one subprocess per variant, 2 steps, "
        + ("`torch.cuda.max_memory_allocated`" if opts["device"] == "cuda" else "peak RSS (`VmHWM`)")
        + "; `loaded` is the memory right after the model is built (weights), so `step` is the training "
        "step's own memory: gradients, optimizer states, activations.",
    ]
    lines = prov.header("Training cost: FT, LoRA and the frozen-backbone floor", notes) + [""]
    lines += render(rows, opts)
    out = results_dir(opts["out"], opts["device"])
    print(write_markdown(out / "train-cost.md", lines))
    print(write_csv(out / "train-cost.csv", rows, comment=prov.command))
    return 0


if __name__ == "__main__":  # the memory worker: python -m lora_repro.bench.train_cost '<json spec>'
    print(json.dumps(memory_worker(json.loads(sys.argv[1]))))
