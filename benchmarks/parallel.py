"""Peak memory and wall time of one full fine-tuning cell on two CPU processes: DDP against FSDP,
DeepSpeed ZeRO-2 and ZeRO-3, as ratios to DDP.

Run with ``make bench`` (or ``python -m benchmarks.parallel --layers 6 --width 1024``). Each
strategy runs the same cell (E2E, full fine-tuning of a random GPT-2 of the given width and depth
saved locally, one epoch) through ``lora-repro``'s own cell runner, one after the other in this one
invocation; reported are rank 0's peak resident memory (``result.json``'s ``peak_memory_mb``, which
includes the model loaded whole before it is sharded and the epoch checkpoint, gathered to rank 0
under FSDP) and the cell's wall time. ZeRO-3 partitions every parameter
(``stage3_param_persistence_threshold: 0``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

STRATEGIES = {
    "ddp": ["accelerate.cpu=true"],
    "fsdp": ["accelerate.config_file=configs/accelerate/cpu_fsdp.yaml"],
    "deepspeed-zero2": ["accelerate.config_file=configs/accelerate/cpu_deepspeed_zero2.yaml"],
    "deepspeed-zero3": [
        "accelerate.config_file=configs/accelerate/cpu_deepspeed_zero3.yaml",
        "accelerate.deepspeed={zero_optimization: {stage3_param_persistence_threshold: 0}}",
    ],
}
CELL = [
    "model=gpt2-medium", "task=e2e", "method=ft", "seed=1", "accelerate.num_processes=2",
    "train.epochs=1", "train.batch_size=8", "train.max_length=64", "train.num_threads=1",
    "eval.max_validation_examples=16", "eval.max_test_examples=2", "generation.beam_size=1",
    "generation.max_new_tokens=4", "task.tiny.n_train=80", "task.tiny.n_validation=20", "task.tiny.n_test=20",
]  # fmt: skip


def _model(path: Path, tokenizer, layers: int, width: int) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(
        vocab_size=len(tokenizer), n_positions=128, n_embd=width, n_layer=layers, n_head=max(1, width // 64),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--examples", type=int, default=64, help="training examples (one epoch)")
    ap.add_argument("--no-checkpoints", action="store_true", help="checkpoint.every_epoch=false")
    args = ap.parse_args()

    from lora_repro.tiny.tokenizer import tiny_tokenizer
    from lora_repro.train.cell import cell_config, run_cell

    work = Path(tempfile.mkdtemp(prefix="lora-repro-bench-parallel-"))
    os.environ["LORA_REPRO_CACHE"] = str(work / "cache")
    model_dir = _model(work / "model", tiny_tokenizer(work / "cache"), args.layers, args.width)
    rows = {}
    for name, extra in STRATEGIES.items():
        overrides = [*CELL, f"model.path={model_dir}", f"run_dir={work / name}",
                     f"train.max_train_examples={args.examples}", *extra,
                     f"checkpoint.every_epoch={str(not args.no_checkpoints).lower()}"]  # fmt: skip
        result = json.loads((run_cell(cell_config(overrides)) / "result.json").read_text())
        rows[name] = (result["peak_memory_mb"], result["wall_time_s"], result["params"])
    ddp_mem, ddp_time, params = rows["ddp"]
    print(
        f"\nFull fine-tuning, GPT-2 width {args.width}, {args.layers} layers "
        f"({params['trainable'] / 1e6:.1f}M trainable), 2 CPU processes, {args.examples} examples, "
        f"epoch checkpoint {'off' if args.no_checkpoints else 'on'}"
    )
    print(f"{'strategy':<18}{'peak MB (rank 0)':>18}{'ratio':>8}{'wall s':>9}{'ratio':>8}")
    for name, (mem, wall, _) in rows.items():
        print(f"{name:<18}{mem:>18.0f}{mem / ddp_mem:>8.2f}{wall:>9.1f}{wall / ddp_time:>8.2f}")
    print(f"(run directories under {work})")


if __name__ == "__main__":
    main()
