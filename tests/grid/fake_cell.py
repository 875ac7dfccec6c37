"""A stand-in for `lora-repro train`: writes result.json + DONE into $LORA_REPRO_CELL_DIR after a sleep.

Appends "start"/"end" lines to $FAKE_CALLS; exits 3 for tasks listed in $FAKE_FAIL; with $FAKE_TORCH
set, runs a torch matmul first (checks that forked cells can use torch's thread pool); with
$FAKE_TRANSFORMERS, records an environment block per seed. ``main(argv)``
is also the entry of forked cells (spawn=fork).
"""

import json
import os
import sys
import time
from pathlib import Path


def main(argv):
    kv = dict(a.split("=", 1) for a in argv if "=" in a)
    run = Path(os.environ["LORA_REPRO_CELL_DIR"])
    calls = Path(os.environ["FAKE_CALLS"])

    def note(what):
        with calls.open("a") as f:
            f.write(f"{what} {run.name} {kv['task']} {kv['seed']} {time.time():.3f} {os.getpid()}\n")

    note("start")
    if os.environ.get("FAKE_TORCH"):
        import torch

        x = torch.ones(256, 256)
        print(f"torch in pid {os.getpid()}: {float((x @ x).sum()):.0f}")
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    if kv["task"] in os.environ.get("FAKE_FAIL", "").split(","):
        print(f"boom: task {kv['task']} fails on purpose")
        return 3
    run.mkdir(parents=True, exist_ok=True)
    seed = int(kv["seed"])
    result = {"params": {"adapter": 1000 * seed, "head": 0, "trainable": 1000, "total": 10**5},
              "test": {"accuracy": 0.5 + seed / 10}, "wall_time_s": 1.0,
              "git_commit": os.environ.get("FAKE_COMMIT") or None}  # fmt: skip
    # FAKE_TRANSFORMERS="1:5.23.0,2:5.24.0": the transformers version each seed's result.json records
    by_seed = dict(p.split(":") for p in os.environ.get("FAKE_TRANSFORMERS", "").split(",") if p)
    if str(seed) in by_seed:
        result["environment"] = {
            "python": "3.11.7",
            "packages": {"torch": "2.13.0+cpu", "transformers": by_seed[str(seed)], "tokenizers": "0.23.2",
                         "datasets": "5.2.0", "accelerate": "1.15.0"},
            "device": {"kind": "cpu", "name": "Test CPU", "count": 2},
        }  # fmt: skip
    tmp = run / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    os.replace(tmp, run / "result.json")
    (run / "DONE").write_text("")
    note("end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
