"""``lora-repro bench switch [layers=N r=4 trials=N warmup=N device=auto out=DIR]``: switching tasks.

A GPT-2 medium (real widths, ``layers`` blocks; CPU default 2, GPU 24) serves task A with its LoRA
(r on W_q, W_v) merged. Switching to task B: ``unmerge``, load B's adapter (``load_trainable`` from its
safetensors file), ``merge``. Against it: loading a full fine-tuned checkpoint of the same model
(safetensors, every weight) into an already-built model. Both interleaved, the files in the page cache
(written just before); reported are the times, their ratio and the two file sizes. Writes
switch.{md,csv} to results/<device>/.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from lora_repro.bench.report import (
    Provenance,
    check_unknown,
    command_line,
    markdown_table,
    progress,
    resolve_device,
    results_dir,
    sync,
    write_csv,
    write_markdown,
)
from lora_repro.bench.timing import interleaved
from lora_repro.bench.variants import gpt2_medium, lora, narrow, randomize_lora, shared_copy
from lora_repro.config import split_args
from lora_repro.methods import merge, save_adapter, unmerge
from lora_repro.methods.io import WEIGHTS_NAME, load_trainable

OWN = {"layers": None, "r": 4, "trials": None, "warmup": 1, "device": "auto", "out": None, "width": None}


class Switcher:
    """A model serving one task's merged LoRA, switching between adapter directories."""

    def __init__(self, model: torch.nn.Module, dirs: list[Path], device: str = "cpu") -> None:
        self.model, self.dirs, self.i, self.device = model, dirs, 0, device
        self.phases: dict[str, list[float]] = {"unmerge": [], "load_adapter": [], "merge": []}

    def switch(self, path: Path) -> None:
        """unmerge the current adapter, load the one at ``path``, merge it (each phase timed)."""
        steps = (
            ("unmerge", lambda: unmerge(self.model)),
            ("load_adapter", lambda: load_trainable(self.model, path, require="exact", check_base=False)),
            ("merge", lambda: merge(self.model)),
        )
        for name, fn in steps:
            t0 = time.perf_counter()
            fn()
            sync(self.device)
            self.phases[name].append(time.perf_counter() - t0)

    def next(self) -> None:
        self.i = (self.i + 1) % len(self.dirs)
        self.switch(self.dirs[self.i])


def setup(opts: dict[str, Any], work: Path) -> tuple[Switcher, torch.nn.Module, Path]:
    """Two task adapters on disk, the serving model (task A merged), a full model and its checkpoint."""
    base = gpt2_medium(int(opts["layers"]), **narrow("gpt2", opts["width"]))
    full = shared_copy(base).to(opts["device"]).eval()
    full_file = work / "full" / "model.safetensors"
    full_file.parent.mkdir(parents=True)
    save_model(full, str(full_file))  # every weight (the tied LM head once)
    model = lora(base, int(opts["r"]), seed=1).to(opts["device"]).eval()
    dirs = []
    for task, seed in (("a", 1), ("b", 2)):
        randomize_lora(model, seed)
        dirs.append(save_adapter(model, work / task))
    switcher = Switcher(model, dirs, opts["device"])
    switcher.switch(dirs[0])
    return switcher, full, full_file


def options(argv: list[str]) -> dict[str, Any]:
    own, rest = split_args(argv, OWN)
    check_unknown(rest, OWN, "switch")
    own["device"] = resolve_device(str(own["device"]))
    cpu = own["device"] == "cpu"
    own["layers"] = int(own["layers"] if own["layers"] is not None else (2 if cpu else 24))
    own["trials"] = int(own["trials"] if own["trials"] is not None else (5 if cpu else 20))
    return own


def measure(opts: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lora-repro-switch-") as tmp:
        switcher, full, full_file = setup(opts, Path(tmp))
        progress(f"switch: {opts['layers']} layer(s), r={opts['r']}, {opts['trials']} trials, interleaved")
        timing = interleaved(
            {"switch": switcher.next, "full load": lambda: load_model(full, str(full_file))},
            int(opts["trials"]),
            int(opts["warmup"]),
            opts["device"],
        )
        phases = {f"{k}_median_ms": statistics.median(v) * 1e3 for k, v in switcher.phases.items()}
        adapter_bytes = (switcher.dirs[0] / WEIGHTS_NAME).stat().st_size
        full_bytes = full_file.stat().st_size
    sw, sw_ci = timing.ms("switch")
    fl, fl_ci = timing.ms("full load")
    ratio, ratio_ci = timing.ratio("switch", "full load")
    return {"layers": opts["layers"], "r": opts["r"], "trials": opts["trials"], "switch_ms": sw,
            "switch_ci95_ms": sw_ci, "full_load_ms": fl, "full_load_ci95_ms": fl_ci, "switch_over_full": ratio,
            "switch_over_full_ci95": ratio_ci, "adapter_bytes": adapter_bytes, "full_bytes": full_bytes, **phases}  # fmt: skip


def main(argv: list[str]) -> int:
    opts = options(argv)
    prov = Provenance(command_line("switch", argv))
    row = measure(opts)
    target = 1 / 50
    verdict = (
        "met"
        if row["switch_over_full"] <= target
        else f"MISSED ({row['switch_over_full'] * 50:.1f}x the target)"
    )
    notes = [
        f"Model: GPT-2 medium widths, {row['layers']} of 24 layers, random weights; LoRA r={row['r']} on W_q, W_v. "
        f"{row['trials']} trials after {opts['warmup']} warm-up, interleaved; ± is a 95% CI. Files in the page "
        "cache; the full load copies into an already-built model (no construction).",
    ]
    lines = prov.header("Task switching: adapter swap against a full checkpoint load", notes) + [""]
    grid = [
        ["operation", "ms", "file size"],
        ["switch (unmerge, load adapter, merge)", f"{row['switch_ms']:.1f}±{row['switch_ci95_ms']:.1f}",
         f"{row['adapter_bytes'] / 2**20:.2f} MiB"],
        ["load full checkpoint", f"{row['full_load_ms']:.1f}±{row['full_load_ci95_ms']:.1f}",
         f"{row['full_bytes'] / 2**20:.1f} MiB"],
    ]  # fmt: skip
    lines += markdown_table(grid)
    ratio = row["switch_over_full"]
    speed = f"1/{1 / ratio:.0f}" if ratio < 1 else f"{ratio:.1f}x slower"
    merge_ms = row["unmerge_median_ms"] + row["merge_median_ms"]
    share = merge_ms / max(merge_ms + row["load_adapter_median_ms"], 1e-12)
    split = ", ".join(
        f"{k.replace('_median_ms', '')} {row[k]:.1f} ms" for k in row if k.endswith("_median_ms")
    )
    lines += [
        "",
        f"Switch / full load: {row['switch_over_full']:.4f}±{row['switch_over_full_ci95']:.4f} "
        f"({speed}); target at most 1/50: {verdict}. File sizes: full / adapter = "
        f"{row['full_bytes'] / row['adapter_bytes']:,.0f}x. Both scale with the number of layers; the full "
        "checkpoint also holds the 51.5M-parameter embedding at any depth.",
        f"The switch's phases (medians, warm-up included): {split}; unmerge and merge are {share:.0%} of it. "
        "They cost what `merge`/`unmerge` do per adapted weight (methods/lora.py): ΔW = BA of the adapted "
        "slices in fp32, one pass over W for the overflow bound, and an in-place add on the adapted "
        "units: memory-bound work that grows with d² per layer, against a checkpoint load that copies every "
        "weight once from the page cache.",
    ]
    out = results_dir(opts["out"], opts["device"])
    print(write_markdown(out / "switch.md", lines))
    print(write_csv(out / "switch.csv", [row], comment=prov.command))
    return 0
