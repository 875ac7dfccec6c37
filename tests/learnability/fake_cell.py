"""A stand-in for `lora-repro train` in the learnability tests: writes result.json + DONE at once.

The test metrics come from $FAKE_VALUES, a JSON object ``{"<task>/<method>/<seed>": {metric: value}}``
where <method> is ``untrained`` for a cell with ``train.epochs=0`` (the last ``train.epochs`` override
wins, as in Hydra). Exits 3 for tasks listed in $FAKE_FAIL; appends one line per call to $FAKE_CALLS.
"""

import json
import os
import sys
from pathlib import Path


def main(argv):
    kv = {}
    for a in argv:
        if "=" in a:
            key, _, value = a.partition("=")
            kv[key] = value
    run = Path(os.environ["LORA_REPRO_CELL_DIR"])
    method = "untrained" if kv.get("train.epochs") == "0" else kv["method"]
    with Path(os.environ["FAKE_CALLS"]).open("a") as f:
        f.write(f"{kv['model']} {kv['task']} {method} {kv['seed']}\n")
    if kv["task"] in os.environ.get("FAKE_FAIL", "").split(","):
        print(f"boom: task {kv['task']} fails on purpose")
        return 3
    values = json.loads(os.environ.get("FAKE_VALUES", "{}"))
    test = values.get(f"{kv['task']}/{method}/{kv['seed']}", {})
    run.mkdir(parents=True, exist_ok=True)
    result = {"params": {"adapter": 10, "head": 0, "trainable": 10, "total": 100}, "test": test,
              "wall_time_s": 30.0, "git_commit": os.environ.get("FAKE_COMMIT") or None}  # fmt: skip
    (run / "result.json").write_text(json.dumps(result))
    (run / "DONE").write_text("")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
