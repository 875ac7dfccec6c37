"""A stand-in for `lora-repro train` of a LoRA cell: saves an adapter with a known structure, then
result.json + DONE (rundir.write_result) into $LORA_REPRO_CELL_DIR.

Every cell's A matrices share one direction, scaled 50x above the rest (so φ(1, 1) between any two
cells is close to 1 and a random pair's is about 1/d); the other rows are random per seed and rank.
ΔW_q = B A puts that direction into W_q's least emphasised output direction (B's first column),
scaled so that the amplification factor is large. $FAKE_RANKS="8:4" saves rank 4 where the cell asks
for 8 (a cell that claims one rank and holds another).
"""

import os
import sys
from pathlib import Path

import torch


def main(argv):
    from transformers import AutoModelForCausalLM

    from lora_repro import apply_method, rundir, save_adapter
    from lora_repro.methods.lora import LoRAFusedLinear

    kv = dict(a.split("=", 1) for a in argv if "=" in a)
    run = Path(os.environ["LORA_REPRO_CELL_DIR"])
    swap = dict(p.split(":") for p in os.environ.get("FAKE_RANKS", "").split(",") if p)
    r = int(swap.get(kv["method.r"], kv["method.r"]))
    targets = kv["method.targets"].strip("[]").split(",")
    seed = int(kv["seed"])
    model = AutoModelForCausalLM.from_pretrained(kv["model.path"])
    apply_method(model, "lora", r=r, alpha=r, targets=targets)
    g = torch.Generator().manual_seed(1000 * seed + r)
    shared = torch.randn(model.config.n_embd, generator=torch.Generator().manual_seed(7))
    shared /= shared.norm()
    with torch.no_grad():
        for layer in (m for m in model.modules() if isinstance(m, LoRAFusedLinear)):
            n, d = len(layer.slice_names), layer.d_slice
            a = torch.randn(n, r, layer.in_features, generator=g) * 0.02
            a[:, 0] = shared * 50 * 0.02
            layer.lora_A.copy_(a.reshape(n * r, -1))
            w = layer.base_layer.weight.T  # [out, in]
            b = torch.randn(n, d, r, generator=g) * 0.01
            for k in range(n):
                rows = layer.lora_index[k * d : (k + 1) * d]
                u, _, _ = torch.linalg.svd(w[rows])
                b[k, :, 0] = u[:, -1] * 5.0  # W's weakest output direction
            layer.lora_B.copy_(b.reshape(n * d, r))
    run.mkdir(parents=True, exist_ok=True)
    save_adapter(model, rundir.adapter_dir(run))
    config = {"model": {"name": kv["model"], "kind": "decoder", "path": kv["model.path"]},
              "profile": {"name": kv.get("profile", "tiny"), "cache_dir": None}}  # fmt: skip
    result = {"config": config, "config_hash": run.name, "params": {"adapter": 1, "head": 0, "trainable": 1, "total": 1},
              "test": {}, "validation": {}, "wall_time_s": 0.1}  # fmt: skip
    rundir.write_result(run, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
