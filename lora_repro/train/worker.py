"""One rank of a cell: build it, train it, evaluate it, write its results (``run``).

Started in-process by ``run_cell`` or, under ``accelerate launch``, on every rank by
``python -m lora_repro.train.cell <run_dir>/config.yaml`` (which reads the resolved config that the
outer process, Hydra, wrote, so ``accelerate launch`` and Hydra never share a process). Rank 0 writes
everything; ``result.json`` is written atomically and only then ``DONE`` (lora_repro.rundir), so a
crash never leaves a result that looks finished. This module does not import train/cell.py.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lora_repro import rundir
from lora_repro.atomic import write_atomic
from lora_repro.environment import environment


def git_commit() -> str | None:
    """The full HEAD commit, with " (+ uncommitted changes)" when code or configs differ from it."""
    from lora_repro.config import git_commit as head

    commit = head(short=False)
    return None if commit == "unknown" else commit


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def write_predictions(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """``predictions_test.jsonl``; for NLG also the plain hypotheses and grouped references files."""
    write_atomic(run_dir / rundir.PREDICTIONS, "".join(json.dumps(r) + "\n" for r in rows))
    if rows and "references" in rows[0]:  # plain files for the official scorers (e2e-metrics layout)
        write_atomic(
            run_dir / rundir.HYPOTHESES, "".join(r["prediction"].replace("\n", " ") + "\n" for r in rows)
        )
        refs = "\n".join("".join(ref.replace("\n", " ") + "\n" for ref in r["references"]) for r in rows)
        write_atomic(run_dir / rundir.REFERENCES, refs)


def best_validation(history: list[dict[str, Any]], best_epoch: int | None) -> dict[str, Any]:
    """The validation metrics of the best epoch; ``{}`` when no epoch ran (``train.epochs=0``)."""
    return next((h["validation"] for h in history if h["epoch"] == best_epoch), {})


def run(cfg: DictConfig, run_dir: Path, init_dir: Path | None, config_hash: str) -> dict[str, Any] | None:
    """Train and evaluate the cell in ``run_dir``; returns the result on rank 0 (None elsewhere).

    ``init_dir``: the adapter the cell starts from (MNLI warm start) or None; ``config_hash``: the
    cell's hash (train/cell.py ``cell_hash``), recorded in result.json."""
    from lora_repro.methods import save_adapter
    from lora_repro.train import checkpoint as ckpt
    from lora_repro.train.loggers import CellLogger
    from lora_repro.train.setup import build_cell
    from lora_repro.train.trainer import config_container, fit, test_metrics

    start = time.time()
    run_dir = Path(run_dir)
    cell = build_cell(cfg, init_dir)
    acc = cell.accelerator
    config = config_container(cfg)
    logger = CellLogger(cfg, run_dir, acc.is_main_process, config)
    ok = False
    try:
        state, best = fit(cfg, cell, run_dir, logger)
        inner = acc.unwrap_model(cell.model)
        ckpt.load_trainable(inner, best)
        if acc.is_main_process:
            save_adapter(inner, rundir.adapter_dir(run_dir), weights=best)  # whole tensors, also under FSDP
        test, rows = test_metrics(cfg, cell)
        result = {
            "config": config,
            "config_hash": config_hash,
            "cell": {
                "model": cfg.model.name,
                "task": cfg.task.name,
                "method": cfg.method.name,
                "seed": int(cfg.seed),
            },
            "params": cell.params,
            "epochs": state.history,
            "best_epoch": state.best_epoch,
            "validation": best_validation(state.history, state.best_epoch),
            "test": test,
            "wall_time_s": time.time() - start,
            "peak_memory_mb": peak_memory_mb(),
            "environment": environment(),
            "git_commit": git_commit(),
        }
        if acc.is_main_process:
            write_predictions(run_dir, rows)
            rundir.write_result(run_dir, result)
            if not cfg.checkpoint.get("keep_after_done", False):
                shutil.rmtree(rundir.checkpoints_dir(run_dir), ignore_errors=True)
            logger.final(state.step, result)
        acc.wait_for_everyone()
        ok = True
        return result if acc.is_main_process else None
    finally:
        logger.close(ok)
