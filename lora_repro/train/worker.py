"""One rank of a cell: ``python -m lora_repro.train.worker <run_dir>/config.yaml``.

Reads the resolved config that the outer process (Hydra) wrote, so ``accelerate launch`` and Hydra
never share a process. Rank 0 writes everything; ``result.json`` is written atomically and only then
``DONE``, so a crash never leaves a result that looks finished.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lora_repro.atomic import write_atomic
from lora_repro.environment import environment

RESULT, DONE, CONFIG = "result.json", "DONE", "config.yaml"


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


def _write_predictions(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(run_dir / "predictions_test.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    if rows and "references" in rows[0]:  # plain files for the official scorers (e2e-metrics layout)
        write_atomic(
            run_dir / "hypotheses_test.txt", "".join(r["prediction"].replace("\n", " ") + "\n" for r in rows)
        )
        refs = "\n".join("".join(ref.replace("\n", " ") + "\n" for ref in r["references"]) for r in rows)
        write_atomic(run_dir / "references_test.txt", refs)


def run(cfg: DictConfig, run_dir: Path, init_dir: Path | None = None) -> dict[str, Any] | None:
    """Train and evaluate the cell in ``run_dir``; returns the result on rank 0 (None elsewhere)."""
    from lora_repro.methods import save_adapter
    from lora_repro.train import checkpoint as ckpt
    from lora_repro.train.cell import cell_hash
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
            save_adapter(inner, run_dir / "adapter", weights=best)  # whole tensors, also under FSDP
        test, rows = test_metrics(cfg, cell)
        best_rec = next(h for h in state.history if h["epoch"] == state.best_epoch)
        result = {
            "config": config,
            "config_hash": cell_hash(cfg),
            "cell": {
                "model": cfg.model.name,
                "task": cfg.task.name,
                "method": cfg.method.name,
                "seed": int(cfg.seed),
            },
            "params": cell.params,
            "epochs": state.history,
            "best_epoch": state.best_epoch,
            "validation": best_rec["validation"],
            "test": test,
            "wall_time_s": time.time() - start,
            "peak_memory_mb": peak_memory_mb(),
            "environment": environment(),
            "git_commit": git_commit(),
        }
        if acc.is_main_process:
            _write_predictions(run_dir, rows)
            write_atomic(run_dir / RESULT, json.dumps(result, indent=1) + "\n")
            write_atomic(run_dir / DONE, time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")
            if not cfg.checkpoint.get("keep_after_done", False):
                shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
            logger.final(state.step, result)
        acc.wait_for_everyone()
        ok = True
        return result if acc.is_main_process else None
    finally:
        logger.close(ok)


def main(argv: list[str] | None = None) -> int:
    """Entry point of each rank under ``accelerate launch``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print("usage: python -m lora_repro.train.worker <run_dir>/config.yaml", file=sys.stderr)
        return 2
    path = Path(argv[0])
    from lora_repro.train.cell import init_adapter_dir

    cfg = OmegaConf.load(path)
    run(cfg, path.parent, init_adapter_dir(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
