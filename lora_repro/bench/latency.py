"""``lora-repro bench table1 [layers=N trials=N warmup=N sweep=none|short|full device=auto dtype=float32
head=false out=DIR]``: Table 1 and Figure 5, the inference latency of one forward pass of GPT-2 medium.

Variants, all at GPT-2 medium's real widths (d 1024, 16 heads, vocabulary 50257) with ``layers``
blocks: FT (the base model: what fine-tuning and merged LoRA serve), LoRA merged into W0, LoRA
unmerged (W_q, W_v), Adapter^L and Adapter^H, the adapters at the paper's |Θ| (0.5M, 11M, bottlenecks
in ``variants.bottleneck``). Points: Table 1's three (bs 32/seq 512 at 0.5M, bs 16/seq 256 and bs 1/seq
128 at 11M) and Figure 5's sweep (bs 1..32 x seq 128/256/512, both budgets; ``sweep=short``: bs 1, 4,
16 x seq 128, 256). Each point times every variant ``trials`` times after ``warmup``, interleaved;
reported are the mean and 95% CI in ms and the per-round % over FT. ``head=false`` times the
transformer body (the LM head is the same for every variant; it would add a fixed cost). Writes
table1.{md,csv} and, with a sweep, figure5.{csv,png,pdf} to results/<device>/. ``lora-repro bench
figure5`` is the same with ``sweep=full``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch

from lora_repro.bench import paper
from lora_repro.bench.report import (
    Provenance,
    check_unknown,
    command_line,
    fmt_ci,
    markdown_table,
    progress,
    resolve_device,
    results_dir,
    write_csv,
    write_markdown,
)
from lora_repro.bench.timing import interleaved
from lora_repro.bench.variants import LABELS, bottleneck, gpt2_medium, latency_variants, narrow, theta
from lora_repro.config import split_args

SWEEPS = {
    "none": ((), ()),
    "short": ((1, 4, 16), (128, 256)),
    "full": (paper.FIGURE5_BATCH_SIZES, paper.FIGURE5_SEQ_LENS),
}
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
OWN = {
    "layers": None, "trials": None, "warmup": None, "sweep": None, "device": "auto", "dtype": "float32",
    "head": False, "out": None, "seed": 0, "budgets": "0.5M,11M", "width": 1024,
}  # fmt: skip


def defaults(device: str, sweep: str | None = None) -> dict[str, Any]:
    """CPU: 1 layer, 5 trials, the short sweep (minutes); GPU: the paper's 24 layers, 100 trials, the full sweep."""
    if device == "cpu":
        return {"layers": 1, "trials": 5, "warmup": 1, "sweep": sweep or "short"}
    return {"layers": 24, "trials": paper.TABLE1_TRIALS, "warmup": 10, "sweep": sweep or "full"}


def options(argv: list[str], sweep: str | None = None) -> dict[str, Any]:
    own, rest = split_args(argv, OWN)
    check_unknown(rest, OWN, "table1")
    own["device"] = resolve_device(str(own["device"]))
    for key, value in defaults(own["device"], sweep).items():
        if own[key] is None:
            own[key] = value
    if own["sweep"] not in SWEEPS:
        raise ValueError(f"sweep={own['sweep']!r}; allowed: {', '.join(SWEEPS)}")
    if own["dtype"] not in DTYPES:
        raise ValueError(f"dtype={own['dtype']!r}; allowed: {', '.join(DTYPES)}")
    budgets = [b.strip() for b in str(own["budgets"]).split(",") if b.strip()]
    bad = [b for b in budgets if b not in paper.BUDGETS]
    if bad or not budgets:
        raise ValueError(f"budgets={own['budgets']!r}; allowed: {', '.join(paper.BUDGETS)}")
    own["budgets"] = budgets
    for key in ("layers", "trials", "warmup", "width"):
        own[key] = int(own[key])
    return own


def points(sweep: str, budgets: list[str]) -> dict[tuple[int, int], list[str]]:
    """(bs, seq) -> the budgets measured there: Table 1's own, and the sweep's."""
    out: dict[tuple[int, int], list[str]] = {}
    for bs, seq, budget in paper.TABLE1_POINTS:
        out.setdefault((bs, seq), []).append(budget)
    bss, seqs = SWEEPS[sweep]
    for seq in seqs:
        for bs in bss:
            have = out.setdefault((bs, seq), [])
            have += [b for b in budgets if b not in have]
    return {k: sorted(v, key=list(paper.BUDGETS).index) for k, v in out.items()}


def forward_fn(model: torch.nn.Module, ids: torch.Tensor, head: bool):
    """One forward pass under inference_mode: the whole LM, or the transformer body alone."""
    target = model if head else model.transformer

    def run() -> torch.Tensor:
        with torch.inference_mode():
            out = target(input_ids=ids, use_cache=False)
            return out.logits if head else out.last_hidden_state

    return run


def build(opts: dict[str, Any]) -> dict[str, torch.nn.Module]:
    base = gpt2_medium(opts["layers"], seed=int(opts["seed"]), **narrow("gpt2", opts["width"]))
    models = latency_variants(base, opts["budgets"])
    dtype = DTYPES[opts["dtype"]]
    return {k: m.to(device=opts["device"], dtype=dtype).eval() for k, m in models.items()}


def variant_meta(name: str, layers: int) -> dict[str, Any]:
    """method, budget, r and |Θ| (at 24 layers and at ``layers``) of a variant name."""
    if name in ("FT", "LoRA merged"):
        return {"method": name, "budget": "", "r": "", "theta_24": "", "theta_layers": ""}
    label, budget = name.rsplit(" ", 1)
    method = {"LoRA unmerged": "lora", **{v: k for k, v in LABELS.items()}}[label]
    r = bottleneck(method, budget)
    return {"method": label, "budget": budget, "r": r, "theta_24": theta(method, r),
            "theta_layers": theta(method, r, layers=layers)}  # fmt: skip


def measure(opts: dict[str, Any]) -> list[dict[str, Any]]:
    """Every point's variants, interleaved; one row per (point, variant)."""
    models = build(opts)
    todo = points(opts["sweep"], opts["budgets"])
    gen = torch.Generator().manual_seed(int(opts["seed"]))
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for i, ((bs, seq), budgets) in enumerate(sorted(todo.items(), key=lambda kv: kv[0][0] * kv[0][1])):
        names = ["FT", "LoRA merged"] + [
            f"{label} {b}" for b in budgets for label in ("LoRA unmerged", "Adapter^L", "Adapter^H")
        ]
        ids = torch.randint(0, models["FT"].config.vocab_size, (bs, seq), generator=gen).to(opts["device"])
        fns = {n: forward_fn(models[n], ids, bool(opts["head"])) for n in names}
        t0 = time.perf_counter()
        timing = interleaved(fns, opts["trials"], opts["warmup"], opts["device"],
                             desc=f"table1 [{i + 1}/{len(todo)}] bs {bs} seq {seq}")  # fmt: skip
        ft = timing.ms("FT")[0]
        progress(
            f"[{i + 1}/{len(todo)}] bs {bs} seq {seq} ({', '.join(budgets)}): FT {ft:.1f} ms, "
            f"{len(names)} variants x {opts['trials'] + opts['warmup']} in {time.perf_counter() - t0:.0f} s "
            f"(total {time.perf_counter() - t_start:.0f} s)"
        )
        for name in names:
            mean, half = timing.ms(name)
            pct, pct_half = timing.pct_over(name, "FT") if name != "FT" else (0.0, 0.0)
            rows.append({"batch_size": bs, "seq_len": seq, "variant": name, **variant_meta(name, opts["layers"]),
                         "mean_ms": mean, "ci95_ms": half, "pct_over_ft": pct, "pct_ci95": pct_half,
                         "trials": opts["trials"], "layers": opts["layers"]})  # fmt: skip
    return rows


def _find(rows: list[dict[str, Any]], bs: int, seq: int, variant: str) -> dict[str, Any] | None:
    return next(
        (r for r in rows if (r["batch_size"], r["seq_len"], r["variant"]) == (bs, seq, variant)), None
    )


def _ours(row: dict[str, Any] | None, with_pct: bool) -> str:
    if row is None:
        return "not measured"
    text = fmt_ci(row["mean_ms"], row["ci95_ms"]) + " ms"
    if with_pct:
        text += (
            f" ({row['pct_over_ft']:+.1f}±{row['pct_ci95']:.1f}%)"
            if not math.isnan(row["pct_ci95"])
            else (f" ({row['pct_over_ft']:+.1f}%)")
        )
    return text


def table1_grid(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Table 1's layout: one column per paper point, ours above the paper's line of each row."""
    head = [""] + [f"bs {bs} / seq {seq} / \\|Θ\\| {b}" for bs, seq, b in paper.TABLE1_POINTS]
    grid = [head]
    spec = [("FT (= merged LoRA, the base model)", "FT", "Fine-Tune/LoRA"), ("LoRA merged", "LoRA merged", None),
            ("LoRA unmerged (W_q, W_v)", "LoRA unmerged", None), ("Adapter^L", "Adapter^L", "Adapter^L"),
            ("Adapter^H", "Adapter^H", "Adapter^H")]  # fmt: skip
    for label, variant, paper_row in spec:
        cells = []
        for bs, seq, budget in paper.TABLE1_POINTS:
            name = variant if variant in ("FT", "LoRA merged") else f"{variant} {budget}"
            cells.append(_ours(_find(rows, bs, seq, name), variant != "FT"))
        grid.append([f"{label}, ours", *cells])
        if paper_row:
            vals = paper.TABLE1[paper_row]
            grid.append(
                ["paper", *[f"{m}±{ci} ms" + (f" (+{p}%)" if p is not None else "") for m, ci, p in vals]]
            )
    return grid


def bottleneck_lines(layers: int, budgets: list[str]) -> list[str]:
    rows = [["|Θ| budget", "design", "r", "|Θ| at 24 layers", f"|Θ| at {layers} layer(s) (measured model)"]]
    for budget in budgets:
        for method in ("lora", "adapter_l", "adapter_h"):
            r = bottleneck(method, budget)
            rows.append(
                [
                    budget,
                    LABELS[method],
                    str(r),
                    f"{theta(method, r):,}",
                    f"{theta(method, r, layers=layers):,}",
                ]
            )
    return markdown_table(rows)


def merged_check(rows: list[dict[str, Any]]) -> str:
    """Target: merged LoRA within 1% of the base model at every point."""
    merged = [r for r in rows if r["variant"] == "LoRA merged"]
    worst = max(merged, key=lambda r: abs(r["pct_over_ft"]))
    ok = all(abs(r["pct_over_ft"]) <= 1.0 for r in merged)
    return (
        f"Target: merged LoRA within 1% of the base model: {'met' if ok else 'MISSED'} "
        f"(largest difference {worst['pct_over_ft']:+.2f}±{worst['pct_ci95']:.2f}% at bs {worst['batch_size']} / "
        f"seq {worst['seq_len']}; merged LoRA runs the same matmuls as the base, so any difference is noise or "
        "the wrapper's Python call)."
    )


def write(rows: list[dict[str, Any]], opts: dict[str, Any], prov: Provenance) -> dict[str, str]:
    out = results_dir(opts["out"], opts["device"])
    what = "the whole model with its LM head" if opts["head"] else "the transformer body (no LM head)"
    notes = [
        f"Model: GPT-2 medium widths (d {opts['width']}, {max(1, opts['width'] // 64)} heads, vocabulary "
        f"{50257 if opts['width'] == 1024 else 1000}), **{opts['layers']} of 24 layers**, "
        f"random weights, {opts['dtype']}; timed: one forward pass of {what} under inference_mode.",
        f"Ours: mean ± 95% CI (Student's t) over {opts['trials']} trials after {opts['warmup']} warm-up, "
        "all variants interleaved per trial; % over FT is the mean ± 95% CI of the per-trial ratio.",
        f"Paper: Table 1 of Hu et al. (2021), 24 layers, mean of {paper.TABLE1_TRIALS} trials on an "
        f"{paper.TABLE1_DEVICE}. Percentages compare across devices and depths only as ratios: an adapter's "
        "extra cost per layer is the same fraction of a layer at any depth, but on a CPU the GPU's "
        "launch overheads that make small-batch adapters costly are absent.",
    ]
    lines = prov.header("Table 1: inference latency of one forward pass, GPT-2 medium", notes) + [""]
    lines += markdown_table(table1_grid(rows)) + ["", merged_check(rows), "", "Bottlenecks (the integer r whose "
              "24-layer |Θ| is nearest the budget; 11M read as Table 3's 11.09M):", ""]  # fmt: skip
    lines += bottleneck_lines(opts["layers"], opts["budgets"])
    files = {
        "table1.md": write_markdown(out / "table1.md", lines),
        "table1.csv": write_csv(out / "table1.csv", rows, comment=prov.command),
    }
    if opts["sweep"] != "none":
        from lora_repro.bench.figure import figure5

        files.update(figure5(rows, out, opts, prov))
    return {k: str(v) for k, v in files.items()}


def main(argv: list[str], sweep: str | None = None) -> int:
    opts = options(argv, sweep)
    name = "figure5" if sweep == "full" else "table1"
    prov = Provenance(command_line(name, argv))
    n = len(points(opts["sweep"], opts["budgets"]))
    progress(
        f"bench {name}: GPT-2 medium widths, {opts['layers']} layer(s), {n} points, {opts['trials']} trials "
        f"+ {opts['warmup']} warm-up, on {opts['device']} ({opts['dtype']})"
    )
    rows = measure(opts)
    for path in write(rows, opts, prov).values():
        print(path)
    return 0
