"""``lora-repro bench gpu-check [device=auto steps=N out=DIR]`` (``make gpu-check``): the GPU paths, checked.

On a GPU, at the paper's widths, on local random-weight models (no network): a GPT-2 medium LoRA cell
trained for ``steps`` steps on one batch in bf16 autocast and in fp16 autocast with loss scaling
(``torch.amp.GradScaler``): every loss finite, the last below the first; merged against unmerged LoRA
in fp32, fp16 and bf16 weights (outputs equal within the dtype's tolerance); beam search (4 beams) with
LoRA merged and unmerged giving the same tokens (fp32); Table 1's three points (24 layers) and the
training-cost figures, written beside this check's own gpu-check.md in results/<gpu name>/; and a full
fine-tuning cell (E2E, a random local GPT-2, 2 layers) through ``accelerate launch`` under FSDP and under
DeepSpeed ZeRO-2 on every GPU present (``configs/accelerate/{fsdp,deepspeed_zero2}.yaml``, one process
per GPU; one GPU: single-process variants), each ending with a finite loss and its result.json. On a
CPU (``device=cpu``, what the test suite runs) the same checks at width 64 with 1-2 layers, the sharded
cells on one gloo process (``cpu_fsdp.yaml``, ``cpu_deepspeed_zero2.yaml``), in about a minute.
``sharded=false`` leaves the sharded cells out. Exits 1 when any check fails.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lora_repro.bench.report import (
    Provenance,
    check_unknown,
    command_line,
    markdown_table,
    progress,
    resolve_device,
    results_dir,
    write_markdown,
)
from lora_repro.bench.variants import gpt2_medium, lora, narrow, shared_copy
from lora_repro.config import split_args
from lora_repro.methods import merge, unmerge

OWN = {"device": "auto", "steps": None, "out": None, "latency": True, "train_cost": True, "sharded": True}
SHARDED = {  # strategy -> accelerate config file on a GPU, on a CPU
    "FSDP": ("configs/accelerate/fsdp.yaml", "configs/accelerate/cpu_fsdp.yaml"),
    "DeepSpeed ZeRO-2": (
        "configs/accelerate/deepspeed_zero2.yaml",
        "configs/accelerate/cpu_deepspeed_zero2.yaml",
    ),
}
TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 5e-2, torch.float16: 1e-2}  # relative to max |output|


def sizes(device: str) -> dict[str, Any]:
    """The models' sizes: the paper's widths on a GPU, width 64 on a CPU (seconds)."""
    if device == "cuda":
        return {"width": None, "layers": 24, "bs": 8, "seq": 256, "gen_layers": 4}
    return {"width": 64, "layers": 2, "bs": 2, "seq": 32, "gen_layers": 2}


def model_for(device: str, layers: int, width: int | None) -> torch.nn.Module:
    return gpt2_medium(layers, **narrow("gpt2", width)).to(device)


def train_amp(device: str, dtype: torch.dtype, steps: int, size: dict[str, Any]) -> str:
    """LoRA r=4 on W_q, W_v, AdamW, one fixed batch under autocast(dtype); fp16 with a GradScaler."""
    model = lora(model_for(device, size["layers"], size["width"]), 4, alpha=32, seed=1)
    for name, p in model.named_parameters():  # B = 0 as trained from scratch
        if name.endswith("lora_B"):
            torch.nn.init.zeros_(p)
    model.train()
    ids = torch.randint(0, model.config.vocab_size, (size["bs"], size["seq"]), device=device)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    scaler = torch.amp.GradScaler(device, enabled=dtype == torch.float16)
    losses = []
    for _ in range(steps):
        with torch.autocast(device_type=device, dtype=dtype):
            loss = model(input_ids=ids, labels=ids).loss
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
    if not all(torch.isfinite(torch.tensor(losses))):
        raise AssertionError(f"non-finite loss in {losses}")
    if not losses[-1] < losses[0]:
        raise AssertionError(f"loss did not go down: first {losses[0]:.4f}, last {losses[-1]:.4f}")
    return f"{steps} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}" + (
        f", final loss scale {scaler.get_scale():.0f}" if scaler.is_enabled() else ""
    )


def merged_vs_unmerged(device: str, dtype: torch.dtype, size: dict[str, Any]) -> str:
    """The same LoRA model's output unmerged and merged, in ``dtype`` weights."""
    model = lora(model_for(device, size["layers"], size["width"]), 8, seed=1).to(dtype).eval()
    ids = torch.randint(0, model.config.vocab_size, (size["bs"], size["seq"]), device=device)
    with torch.inference_mode():
        a = model.transformer(input_ids=ids).last_hidden_state.float()
        merge(model)
        b = model.transformer(input_ids=ids).last_hidden_state.float()
        unmerge(model)
        c = model.transformer(input_ids=ids).last_hidden_state.float()
    scale = a.abs().max().item()
    err, back = (a - b).abs().max().item() / scale, (a - c).abs().max().item() / scale
    if max(err, back) > TOLERANCE[dtype]:
        raise AssertionError(
            f"relative difference merged {err:.2e}, unmerged again {back:.2e} > {TOLERANCE[dtype]}"
        )
    return (
        f"max relative difference merged {err:.1e}, after unmerge {back:.1e} (tolerance {TOLERANCE[dtype]})"
    )


def beam_search(device: str, size: dict[str, Any]) -> str:
    """generate(num_beams=4) gives the same tokens with LoRA merged and unmerged (fp32)."""
    base = model_for(device, size["gen_layers"], size["width"])
    model = lora(shared_copy(base), 8, seed=1).eval()
    ids = torch.randint(0, model.config.vocab_size, (2, 16), device=device)
    kw = {"num_beams": 4, "max_new_tokens": 12, "do_sample": False, "pad_token_id": 0, "min_new_tokens": 12}
    with torch.inference_mode():
        unmerged = model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
        merge(model)
        merged = model.generate(ids, attention_mask=torch.ones_like(ids), **kw)
    if not torch.equal(unmerged, merged):
        raise AssertionError(f"beam search differs: {unmerged.tolist()} vs {merged.tolist()}")
    return f"4 beams, {kw['max_new_tokens']} new tokens, identical merged and unmerged"


def sharded_cell(device: str, strategy: str, work: Path) -> str:
    """One full fine-tuning cell under ``strategy`` through ``accelerate launch`` (the suite's own cell
    runner), on every GPU (one gloo process on a CPU), on a random 2-layer GPT-2 saved locally: every
    epoch's training loss finite, a result.json with test metrics."""
    import json
    import math
    import os

    from transformers import GPT2Config, GPT2LMHeadModel

    from lora_repro.tiny.tokenizer import tiny_tokenizer
    from lora_repro.train.cell import cell_config, run_cell

    gpu_file, cpu_file = SHARDED[strategy]
    nproc = max(1, torch.cuda.device_count()) if device == "cuda" else 1
    os.environ.setdefault("LORA_REPRO_CACHE", str(work / "cache"))
    model_dir = work / "model"
    if not model_dir.is_dir():
        tok = tiny_tokenizer()
        torch.manual_seed(0)
        width = 1024 if device == "cuda" else 64
        cfg = GPT2Config(
            vocab_size=len(tok), n_positions=128, n_embd=width, n_layer=2, n_head=max(1, width // 64),
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        )  # fmt: skip
        GPT2LMHeadModel(cfg).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    overrides = [
        "model=gpt2-medium", "task=e2e", "method=ft", "seed=1", f"model.path={model_dir}",
        f"run_dir={work / strategy.replace(' ', '_')}", f"accelerate.num_processes={nproc}",
        f"accelerate.config_file={gpu_file if device == 'cuda' else cpu_file}",
        f"accelerate.cpu={str(device != 'cuda').lower()}",
        f"train.mixed_precision={'bf16' if device == 'cuda' else 'no'}",
        "train.epochs=1", "train.batch_size=4", "train.max_length=64", "train.max_train_examples=32",
        "eval.max_validation_examples=8", "eval.max_test_examples=2", "generation.beam_size=1",
        "generation.max_new_tokens=4", "task.tiny.n_train=40", "task.tiny.n_validation=10",
        "task.tiny.n_test=10", "checkpoint.every_epoch=false",
    ]  # fmt: skip
    result = json.loads((run_cell(cell_config(overrides)) / "result.json").read_text())
    losses = [e["train_loss"] for e in result["epochs"]]
    if not losses or not all(math.isfinite(x) for x in losses) or not result.get("test"):
        raise AssertionError(f"{strategy}: training losses {losses}, test {result.get('test')}")
    return f"{nproc} process(es), train loss {losses[-1]:.3f}, test {sorted(result['test'])[:3]}"


def sub_bench(module: str, argv: list[str]) -> Callable[[], str]:
    def run() -> str:
        import importlib

        rc = importlib.import_module(module).main(argv)
        if rc:
            raise AssertionError(f"{module} returned {rc}")
        return "wrote " + module.rsplit(".", 1)[-1] + " results"

    return run


def checks(opts: dict[str, Any]) -> list[tuple[str, Callable[[], str]]]:
    dev, size, out = opts["device"], sizes(opts["device"]), str(opts["out_dir"])
    steps = int(opts["steps"] or (30 if dev == "cuda" else 6))
    todo: list[tuple[str, Callable[[], str]]] = [
        ("train LoRA, bf16 autocast", lambda: train_amp(dev, torch.bfloat16, steps, size)),
        ("train LoRA, fp16 autocast + loss scaling", lambda: train_amp(dev, torch.float16, steps, size)),
    ]
    dtypes = (
        (torch.float32, torch.bfloat16, torch.float16) if dev == "cuda" else (torch.float32, torch.bfloat16)
    )
    todo += [(f"merged = unmerged LoRA, {str(d).split('.')[-1]}", lambda d=d: merged_vs_unmerged(dev, d, size))
             for d in dtypes]  # fmt: skip
    todo.append(("beam search, merged = unmerged", lambda: beam_search(dev, size)))
    small = [] if dev == "cuda" else ["width=64", "layers=1", "trials=1", "warmup=0"]
    if opts["latency"]:
        todo.append(("Table 1 points", sub_bench("lora_repro.bench.latency",
                     [f"device={dev}", f"out={out}", "sweep=none", *small])))  # fmt: skip
    if opts["train_cost"]:
        tc = [] if dev == "cuda" else ["width=64", "layers=1", "steps=1", "warmup=0", "memory=false"]
        todo.append(
            ("training cost", sub_bench("lora_repro.bench.train_cost", [f"device={dev}", f"out={out}", *tc]))
        )
    if opts["sharded"]:
        work = Path(tempfile.mkdtemp(prefix="lora-repro-gpu-check-"))
        todo += [(f"{name} cell", lambda name=name: sharded_cell(dev, name, work)) for name in SHARDED]
    return todo


def main(argv: list[str]) -> int:
    own, rest = split_args(argv, OWN)
    check_unknown(rest, OWN, "gpu-check")
    own["device"] = resolve_device(str(own["device"]))
    own["out_dir"] = results_dir(own["out"], own["device"])
    prov = Provenance(command_line("gpu-check", argv))
    rows, failed = [["check", "result", "s", "detail"]], 0
    for name, fn in checks(own):
        progress(f"gpu-check: {name} ...")
        t0 = time.perf_counter()
        try:
            detail, ok = fn(), True
        except Exception as err:  # noqa: BLE001 - every failure is reported, then the exit code says it
            detail, ok = f"{type(err).__name__}: {err}".replace("\n", " ")[:400], False
            traceback.print_exc()
        failed += not ok
        rows.append([name, "ok" if ok else "FAILED", f"{time.perf_counter() - t0:.1f}", detail])
        progress(f"gpu-check: {name}: {'ok' if ok else 'FAILED'} ({detail})")
        if own["device"] == "cuda":
            torch.cuda.empty_cache()
    note = f"Sizes: {sizes(own['device'])} (width None: GPT-2 medium's 1024); random weights, no network."
    lines = prov.header("GPU check: the GPU paths of lora-repro", [note]) + [""] + markdown_table(rows)
    lines += ["", f"{len(rows) - 1 - failed} of {len(rows) - 1} checks passed."]
    print(write_markdown(own["out_dir"] / "gpu-check.md", lines))
    return 1 if failed else 0
