"""``lora-repro bench all [device=auto out=DIR run=all|NAME,...]`` (``make bench``): a short version of every bench, and
efficiency.md, which gathers their results.

Runs, in order: ``gpt3-memory``, ``switch``, ``train-cost``, ``table1`` (on a CPU: 1 layer, 3 trials,
the short Figure 5 sweep), ``peft`` (2 layers, 8 rounds), ``checkpoints`` (the committed tiny
tables' cells); on a GPU each command's own defaults (the
paper's depth, 100 trials).
Each writes its own files; efficiency.md repeats their tables under one header. ``run=switch,table1``
reruns only those and reuses the other files already in the results directory.
"""

from __future__ import annotations

import time
from pathlib import Path

from lora_repro.bench.report import (
    Provenance,
    check_unknown,
    command_line,
    progress,
    resolve_device,
    results_dir,
    write_markdown,
)
from lora_repro.config import split_args

OWN = {"device": "auto", "out": None, "run": "all"}
SHORT_CPU = {  # bench -> extra arguments on a CPU (minutes in all)
    "gpt3-memory": [],
    "switch": ["trials=5"],
    "train-cost": ["steps=4"],
    "table1": ["layers=1", "trials=3", "warmup=1", "sweep=short"],
    "peft": [],
    "checkpoints": [],
}
MODULES = {
    "gpt3-memory": ("lora_repro.bench.memory", "gpt3-memory.md"),
    "switch": ("lora_repro.bench.switch", "switch.md"),
    "train-cost": ("lora_repro.bench.train_cost", "train-cost.md"),
    "table1": ("lora_repro.bench.latency", "table1.md"),
    "peft": ("lora_repro.bench.peft_compare", "peft.md"),
    "checkpoints": ("lora_repro.bench.checkpoints", "checkpoints.md"),
}


def body(path: Path) -> list[str]:
    """A result file without its title and provenance header (everything after the first block)."""
    lines = path.read_text().splitlines()
    blank = [i for i, line in enumerate(lines) if not line.strip()]
    start = blank[1] + 1 if len(blank) > 1 else 0
    header = [line.rstrip() for line in lines[blank[0] + 1 : blank[1]]] if len(blank) > 1 else []
    produced = next((line for line in header if line.startswith("Produced by")), "")
    notes = [line for line in header[4:]]  # after Produced/Device/Environment/Load: the file's own notes
    return ([produced + "  "] if produced else []) + [f"{n}  " for n in notes] + [""] + lines[start:]


def main(argv: list[str], extra: dict[str, list[str]] | None = None) -> int:
    own, rest = split_args(argv, OWN)
    check_unknown(rest, OWN, "all")
    device = resolve_device(str(own["device"]))
    out = results_dir(own["out"], device)
    prov = Provenance(command_line("all", argv))
    run = list(MODULES) if own["run"] == "all" else [n.strip() for n in str(own["run"]).split(",")]
    bad = [n for n in run if n not in MODULES]
    if bad:
        raise ValueError(
            f"run={own['run']!r}; allowed: all or a comma-separated subset of {', '.join(MODULES)}"
        )
    sections: list[str] = []
    for name, (module, md) in MODULES.items():
        import importlib

        if name not in run:  # reuse the file a previous run wrote
            if not (out / md).is_file():
                raise FileNotFoundError(f"{out / md} not found: run=all (or include {name}) writes it")
            sections += ["", f"## {name} ([{md}]({md}))", "", *body(out / md)]
            continue
        args = [f"out={out}", *(SHORT_CPU[name] if device == "cpu" else [])]
        if name != "checkpoints":  # sizes on disk: no device
            args.insert(0, f"device={device}")
        args += (extra or {}).get(name, [])
        progress(f"bench all: {name} {' '.join(args)}")
        t0 = time.perf_counter()
        rc = importlib.import_module(module).main(args)
        if rc:
            raise RuntimeError(f"bench {name} failed with exit code {rc}")
        progress(f"bench all: {name} done in {time.perf_counter() - t0:.0f} s")
        sections += ["", f"## {name} ([{md}]({md}))", "", *body(out / md)]
    notes = [
        "Every figure below is a ratio of variants measured side by side, interleaved, in one process, with "
        "the absolute numbers beside it; each section is its own command's file, repeated here.",
    ]
    lines = prov.header("Efficiency, measured (issue 18)", notes) + sections
    print(write_markdown(out / "efficiency.md", lines))
    return 0
