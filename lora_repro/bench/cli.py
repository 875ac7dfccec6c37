"""``lora-repro bench <name> [key=value ...]``: the paper's efficiency claims, measured on this machine.

Names: ``table1`` (Table 1 and a short Figure 5 sweep), ``figure5`` (Table 1 and the full sweep),
``train-cost`` (tokens/s and peak memory of FT, LoRA and the frozen floor), ``gpt3-memory`` (the
GPT-3 175B VRAM and checkpoint arithmetic), ``switch`` (adapter switch against a full checkpoint
load), ``peft`` (our LoRA against PEFT's on identical math), ``all`` (a short version of
everything: results/<device>/efficiency.md), ``gpu-check`` (the
GPU paths; its CPU variant runs in seconds). Each writes Markdown and CSV to results/<device>/
(``out=DIR`` elsewhere). Each name's keys: docs/efficiency.md and the docstring of its module.
"""

from __future__ import annotations

import importlib

NAMES: dict[str, tuple[str, str]] = {
    "table1": ("lora_repro.bench.latency", "Table 1 (and a short Figure 5 sweep): forward latency"),
    "figure5": ("lora_repro.bench.latency", "Table 1 and Figure 5's full sweep"),
    "train-cost": ("lora_repro.bench.train_cost", "tokens/s and peak memory: FT, LoRA, frozen floor"),
    "gpt3-memory": ("lora_repro.bench.memory", "GPT-3 175B: VRAM and checkpoint size, FT vs LoRA"),
    "switch": ("lora_repro.bench.switch", "task switch: adapter unmerge/load/merge vs full checkpoint"),
    "peft": ("lora_repro.bench.peft_compare", "ours against PEFT, identical math: training step, forward"),
    "checkpoints": ("lora_repro.bench.checkpoints", "adapter vs full checkpoint size, every committed cell"),
    "all": ("lora_repro.bench.suite", "a short version of all of it: efficiency.md"),
    "gpu-check": ("lora_repro.bench.gpu_check", "the GPU paths (CPU variant in seconds)"),
}


def usage() -> str:
    lines = ["usage: lora-repro bench <name> [key=value ...]", "", "names:"]
    return "\n".join(lines + [f"  {n:<12} {doc}" for n, (_, doc) in NAMES.items()])


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], list(argv[1:])
    if name not in NAMES:
        raise ValueError(f"unknown bench {name!r}; allowed: {', '.join(NAMES)}")
    module = importlib.import_module(NAMES[name][0])
    if {"-h", "--help"} & set(rest):
        print((module.__doc__ or "").strip().replace("``", "`"))
        return 0
    if name == "figure5":
        return int(module.main(rest, sweep="full") or 0)
    return int(module.main(rest) or 0)
