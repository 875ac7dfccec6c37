"""What a cell reports while it runs: a progress bar, ``train_log.jsonl``, optionally wandb. Rank 0 only.

``logger=wandb`` logs the resolved config once, the training loss every ``log_every`` optimizer steps
and the metrics of every epoch. It runs offline unless ``WANDB_MODE`` is set. Runs are grouped by
``logger.group`` (default ``<model>/<task>/<method>``, the cell without its seed) and named after
the cell; the run id is stored in ``<run_dir>/wandb_id`` so a resumed cell continues the same run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lora_repro.atomic import write_atomic


class CellLogger:
    """Fan-out of step and epoch records to a JSONL file and (optionally) wandb."""

    def __init__(self, cfg: Any, run_dir: Path, enabled: bool, config: dict[str, Any]) -> None:
        self.enabled = enabled
        self.run_dir = Path(run_dir)
        self.log_every = int(cfg.logger.get("log_every", 10) or 10)
        self.wandb = None
        if not enabled:
            return
        self.file = open(self.run_dir / "train_log.jsonl", "a", buffering=1)  # noqa: SIM115
        if cfg.logger.name == "wandb":
            self.wandb = _start_wandb(cfg, self.run_dir, config)

    def start(self, record: dict[str, Any]) -> None:
        """How this session runs (processes, device, resumed epoch): provenance for the log."""
        if self.enabled:
            self.file.write(json.dumps({"event": "start", **record}) + "\n")

    def step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        """One optimizer step (logged every ``log_every`` steps)."""
        if not self.enabled or step % self.log_every:
            return
        rec = {"step": step, "epoch": epoch, "train_loss": loss, "lr": lr}
        self.file.write(json.dumps(rec) + "\n")
        if self.wandb is not None:
            self.wandb.log({"train/loss": loss, "train/lr": lr, "epoch": epoch}, step=step)

    def epoch(self, step: int, record: dict[str, Any]) -> None:
        """The record of a finished epoch (train loss, validation metrics)."""
        if not self.enabled:
            return
        self.file.write(json.dumps({"step": step, **record}) + "\n")
        if self.wandb is not None:
            flat = {"epoch": record["epoch"], "train/epoch_loss": record["train_loss"]}
            flat.update({f"validation/{k}": v for k, v in record["validation"].items()})
            self.wandb.log(flat, step=step)

    def final(self, step: int, result: dict[str, Any]) -> None:
        """The cell's result (best epoch, test metrics)."""
        if not self.enabled:
            return
        if self.wandb is not None:
            self.wandb.log({f"test/{k}": v for k, v in result["test"].items()}, step=step)
            self.wandb.summary.update(
                {"best_epoch": result["best_epoch"], **{f"test/{k}": v for k, v in result["test"].items()}}
            )

    def close(self, ok: bool = True) -> None:
        if not self.enabled:
            return
        self.file.close()
        if self.wandb is not None:
            import wandb

            self.wandb.finish(exit_code=0 if ok else 1)
            self.wandb = None
            wandb.teardown()  # flush the offline datastore before the cell returns


def _new_id() -> str:
    """A wandb-style run id (8 lowercase letters and digits)."""
    import secrets
    import string

    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _start_wandb(cfg: Any, run_dir: Path, config: dict[str, Any]):
    import wandb

    id_file = run_dir / "wandb_id"
    if id_file.is_file():
        run_id = id_file.read_text().strip()
    else:
        run_id = _new_id()
        write_atomic(id_file, run_id + "\n")
    lg = cfg.logger
    cell = f"{cfg.model.name}/{cfg.task.name}/{cfg.method.name}"
    return wandb.init(
        project=lg.project,
        entity=lg.get("entity"),
        group=lg.get("group") or cell,
        job_type=cfg.task.name,
        name=f"{cell}/seed{cfg.seed}",
        tags=list(lg.get("tags") or []),
        id=run_id,
        resume="allow",
        dir=str(lg.get("dir") or run_dir),
        mode=os.environ.get("WANDB_MODE") or lg.get("mode") or "offline",
        config=config,
    )
