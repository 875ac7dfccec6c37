"""A cell's run directory: its layout in one place, for train (which writes it), grid and tables.

::

    runs/<profile>/<cell hash>/
      config.yaml              the resolved config the worker ran (written before training)
      train_log.jsonl          one JSON line per logged step and epoch
      checkpoints/epoch-N/     the newest epoch checkpoint(s); removed once DONE (unless kept)
      adapter/                 adapter_config.json + adapter_model.safetensors (the best epoch)
      predictions_test.jsonl   per-input test predictions; NLG also hypotheses_test.txt, references_test.txt
      result.json              written atomically ...
      DONE                     ... then this marker: a run is finished exactly when DONE exists

Nothing here imports torch, the trainer, the grid or the tables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic

CONFIG = "config.yaml"
RESULT = "result.json"
DONE = "DONE"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"
# The PEFT weights file inside ADAPTER (lora_repro.methods.io.WEIGHTS_NAME; a test keeps them equal).
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PREDICTIONS = "predictions_test.jsonl"
HYPOTHESES = "hypotheses_test.txt"
REFERENCES = "references_test.txt"


def is_done(run_dir: str | Path) -> bool:
    """True when the cell finished: ``DONE`` exists (written after ``result.json``)."""
    return (Path(run_dir) / DONE).is_file()


def read_result(run_dir: str | Path) -> dict[str, Any] | None:
    """A finished run's ``result.json``, or None while the run is not DONE."""
    run_dir = Path(run_dir)
    if not is_done(run_dir):
        return None
    return json.loads((run_dir / RESULT).read_text())


def write_result(run_dir: str | Path, result: dict[str, Any]) -> None:
    """``result.json`` atomically, then ``DONE``: a crash never leaves a result that looks finished."""
    run_dir = Path(run_dir)
    write_atomic(run_dir / RESULT, json.dumps(result, indent=1) + "\n")
    write_atomic(run_dir / DONE, time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")


def adapter_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / ADAPTER


def has_adapter(directory: str | Path) -> bool:
    """True when ``directory`` holds adapter weights (a run's ``adapter/`` or any adapter directory)."""
    return (Path(directory) / ADAPTER_WEIGHTS).is_file()


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINTS
