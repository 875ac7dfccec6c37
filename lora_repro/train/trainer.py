"""The training loop of one cell (one rank): epochs, evaluation, best epoch, checkpoints, test.

Per optimizer step: the global batch (``train.batch_size`` examples, the same whatever the number of
processes) is cut into ``grad_accum`` micro-batches and each of those into one part per process.
Every part's summed loss is divided by the number of loss terms of the *whole* global batch (target
tokens for LM, examples for classification) and multiplied by the number of processes, so DDP's
gradient average is exactly the gradient of the global batch's mean loss. Then: clipping, AdamW,
the linear schedule. After each epoch: validation, best-epoch bookkeeping, an epoch checkpoint.
At the end the best epoch's weights are restored, saved as the adapter, and evaluated on test.

``train.max_steps`` (null: ``train.epochs`` decide): training stops after that many optimizer steps,
across as many epochs as it takes (the last one cut short, then validated and checkpointed like any
epoch), the schedule's total is ``max_steps`` (warm-up computed from it as usual), and the model of
the last step is the one reported (best epoch = the last: the paper's fixed-step protocol, Table 18).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lora_repro.train import checkpoint as ckpt
from lora_repro.train.backends import Plain, make_backend
from lora_repro.train.backends import configure_deepspeed as configure_deepspeed  # re-exported
from lora_repro.train.data import collate, epoch_order, global_batches, micro_batches
from lora_repro.train.evaluate import (
    decoder_labels,
    forward,
    generate_groups,
    is_better,
    loss_sum,
    predict,
    validation_metrics,
)
from lora_repro.train.setup import RunningCell, TrainingDiverged, lr_factor, make_optimizer, warmup_steps


def compute_loss(model, batch, cell: RunningCell, smoothing: float) -> torch.Tensor:
    """Summed loss of one micro-batch (a seam tests patch to inject a NaN)."""
    logits = forward(model, batch, cell.family, cell.prefix)
    return loss_sum(logits, batch["labels"], cell.family, cell.regression, smoothing)


def select_key(cfg: DictConfig, cell: RunningCell) -> tuple[str, str]:
    """The validation metric that picks the best epoch: eval.select, else loss (NLG) or the task's."""
    if cfg.eval.select is not None:
        key, mode = list(cfg.eval.select)
        return str(key), str(mode)
    if cell.task.kind == "generation":
        return "loss", "min"
    return tuple(cell.task.select_metric)  # type: ignore[return-value]


def record_base_fingerprint(model) -> None:
    """Keep the base model's fingerprint for the adapter, read from the whole embedding."""
    from lora_repro.methods.io import BASE_FINGERPRINT_ATTR, base_fingerprint

    if getattr(model, BASE_FINGERPRINT_ATTR, None) is None:
        setattr(model, BASE_FINGERPRINT_ATTR, base_fingerprint(model))


@dataclass
class Run:
    """What the loop carries from step to step: the (wrapped) model, its optimizer, the schedule."""

    backend: Plain
    model: Any
    inner: Any  # the unwrapped model (checkpoints, best weights)
    optimizer: Any
    base_lrs: list[float]
    params: list[torch.Tensor]
    warmup: int
    total: int
    steps_per_epoch: int
    select: tuple[str, str]  # the validation metric that picks the best epoch, and its mode
    epochs: int = 0  # epochs to run: train.epochs, or as many as train.max_steps needs
    max_steps: int | None = None
    state: ckpt.TrainState = field(default_factory=ckpt.TrainState)
    best: dict[str, torch.Tensor] | None = None


def check_batch_size(t: DictConfig, world: int) -> tuple[int, int]:
    bs, ga = int(t.batch_size), int(t.grad_accum)
    if bs % ga or bs // ga < world:
        raise ValueError(
            f"train.batch_size={bs} must be a multiple of grad_accum={ga} with at least one example per "
            f"process per micro-batch ({world} processes)"
        )
    return bs, ga


def start(cfg: DictConfig, cell: RunningCell, run_dir: Path, logger, select: tuple[str, str]) -> Run:
    """Prepare model and optimizer with the cell's backend and resume from the newest checkpoint."""
    acc, world = cell.accelerator, cell.accelerator.num_processes
    bs, _ = check_batch_size(cfg.train, world)
    steps_per_epoch = len(global_batches(list(range(len(cell.train))), bs))
    max_steps = cfg.train.get("max_steps")
    max_steps = None if max_steps is None else int(max_steps)
    total, epochs = int(cfg.train.epochs) * steps_per_epoch, int(cfg.train.epochs)
    if max_steps is not None:  # the step count decides: the last epoch is cut short
        total, epochs = max_steps, -(-max_steps // max(1, steps_per_epoch))
    record_base_fingerprint(cell.model)  # before FSDP / ZeRO-3 cut the embedding into shards
    backend = make_backend(acc, cfg, cell.fsdp)
    model, optimizer, base_lrs = backend.prepare(cell.model, lambda m: make_optimizer(cfg, m))
    params = [p for p in model.parameters() if p.requires_grad]
    run = Run(backend, model, acc.unwrap_model(model), optimizer, base_lrs, params,
              warmup_steps(cfg, total, cell.train), total, steps_per_epoch, select, epochs=epochs,
              max_steps=max_steps)  # fmt: skip
    found = ckpt.epoch_dirs(run_dir)
    if found:
        run.state, run.best = backend.load(found[-1][1], run.inner, model, optimizer)
    logger.start(
        {"num_processes": world, "parallel": backend.kind, "device": str(acc.device),
         "mixed_precision": acc.mixed_precision, "resumed_from_epoch": run.state.epoch,
         "steps_per_epoch": steps_per_epoch, "warmup_steps": run.warmup}
    )  # fmt: skip
    return run


def train_step(
    cfg: DictConfig, cell: RunningCell, run: Run, gb: list[int], epoch: int
) -> tuple[float, int, float]:
    """One optimizer step on the global batch ``gb``: (summed loss of this rank's parts, loss terms, lr)."""
    acc, t = cell.accelerator, cfg.train
    world, rank = acc.num_processes, acc.process_index
    n_terms = sum(cell.train[i].n_targets for i in gb)
    parts = micro_batches(gb, int(t.grad_accum), world, rank)
    smoothing, pad = float(t.label_smoothing or 0.0), cell.tokenizer.pad_token_id
    step_loss = 0.0
    for j, part in enumerate(parts):
        weight = 1.0 if part else 0.0
        exs = [cell.train[i] for i in (part or gb[:1])]
        batch = {k: v.to(acc.device) for k, v in collate(exs, pad, cell.family, cell.regression).items()}
        with run.backend.micro_batch(run.model, sync=j == len(parts) - 1), acc.autocast():
            loss = compute_loss(run.model, batch, cell, smoothing)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss is {loss.item()} at epoch {epoch}, step {run.state.step + 1} "
                    f"(train.lr={t.lr}); the cell stops without a result"
                )
            run.backend.backward(run.model, loss * (weight * world / n_terms))
        step_loss += float(loss.detach()) * weight
    factor = lr_factor(run.state.step, run.warmup, run.total)
    for g, lr in zip(run.optimizer.param_groups, run.base_lrs, strict=True):
        g["lr"] = lr * factor
    run.backend.step(run.model, run.optimizer, run.params, t.max_grad_norm)
    run.state.step += 1
    return step_loss, n_terms, run.base_lrs[0] * factor


def train_epoch(cfg: DictConfig, cell: RunningCell, run: Run, epoch: int, logger) -> float:
    """One epoch over the training set; the mean training loss over its loss terms."""
    from lora_repro.progress import progress_bar as tqdm

    acc = cell.accelerator
    world = acc.num_processes
    torch.manual_seed(1_000_003 * int(cfg.seed) + 1009 * epoch + acc.process_index)
    run.model.train()
    batches = global_batches(epoch_order(len(cell.train), int(cfg.seed), epoch), int(cfg.train.batch_size))
    if run.max_steps is not None:  # stop at max_steps (same order as the whole epoch, cut short)
        batches = batches[: max(0, run.max_steps - run.state.step)]
    desc = f"epoch {epoch}/{run.epochs}"
    bar = tqdm(batches, desc=desc, disable=not acc.is_main_process, mininterval=1.0)
    ep_loss, ep_n, t0, seen = 0.0, 0, time.perf_counter(), 0
    for gb in bar:
        step_loss, n_terms, lr = train_step(cfg, cell, run, gb, epoch)
        ep_loss, ep_n, seen = ep_loss + step_loss, ep_n + n_terms, seen + len(gb)
        rate = seen / max(1e-9, time.perf_counter() - t0)
        mean = step_loss * world / n_terms
        bar.set_postfix(loss=f"{mean:.4f}", ex_s=f"{rate:.0f}", refresh=False)  # redraw at mininterval only
        logger.step(run.state.step, epoch, mean, lr)
    if world > 1:
        tot = acc.reduce(torch.tensor([ep_loss], dtype=torch.float64, device=acc.device), reduction="sum")
        ep_loss = float(tot[0])
    return ep_loss / max(1, ep_n)


def end_epoch(
    cfg: DictConfig, cell: RunningCell, run: Run, epoch: int, train_loss: float, run_dir: Path, logger
) -> None:
    """Validate, keep the best epoch's weights, write the epoch checkpoint."""
    key, mode = run.select
    val = validation_metrics(run.model, cell, cfg)
    if key not in val:
        raise ValueError(
            f"validation has no metric {key!r} to select the best epoch; available: {sorted(val)}"
        )
    state = run.state
    state.epoch = epoch
    record = {"epoch": epoch, "train_loss": train_loss, "validation": val}
    state.history.append(record)
    if is_better(val[key], state.best_value, mode):
        state.best_epoch, state.best_value = epoch, float(val[key])
        run.best = ckpt.trainable_state(run.inner)
    logger.epoch(state.step, record)
    if cfg.checkpoint.every_epoch:
        run.backend.save(
            run_dir, run.inner, run.model, run.optimizer, state, run.best, int(cfg.checkpoint.keep)
        )
    cell.accelerator.wait_for_everyone()


def fit(
    cfg: DictConfig, cell: RunningCell, run_dir: Path, logger
) -> tuple[ckpt.TrainState, dict[str, torch.Tensor]]:
    """Train to the last epoch (resuming from the newest checkpoint); returns state and best weights."""
    select = select_key(cfg, cell)  # a bad eval.select fails before anything is prepared
    run = start(cfg, cell, run_dir, logger, select)
    for epoch in range(run.state.epoch + 1, run.epochs + 1):
        train_loss = train_epoch(cfg, cell, run, epoch, logger)
        end_epoch(cfg, cell, run, epoch, train_loss, run_dir, logger)
    if run.max_steps is not None and run.state.history:  # fixed steps: report the last step's model
        last = run.state.history[-1]
        run.state.best_epoch = int(last["epoch"])
        run.state.best_value = float(last["validation"][select[0]])
        run.best = ckpt.trainable_state(run.inner)
    if run.best is None:  # every epoch was already done before this (resumed) session
        run.best = ckpt.trainable_state(run.inner)
    cell.model = run.model
    return run.state, run.best


def test_metrics(cfg: DictConfig, cell: RunningCell) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics of the (best) model on the test role and the per-input predictions."""
    from lora_repro.metrics import score
    from lora_repro.progress import progress_bar as tqdm

    acc, model, task = cell.accelerator, cell.model, cell.task
    if cell.test_groups is not None:
        groups = cell.test_groups
        bar = tqdm(total=len(groups), desc="generate test", disable=not acc.is_main_process, mininterval=1.0)
        texts = generate_groups(acc, acc.unwrap_model(model), cell.tokenizer, groups, cfg, bar)
        bar.close()
        refs = [g["references"] for g in groups]
        scores = score(task.metric, texts, refs, **task.metric_kwargs(groups))
        rows = [
            {
                "index": i,
                "input": g["text"],
                "prediction": p,
                "references": g["references"],
                "meta": g.get("meta"),
            }
            for i, (g, p) in enumerate(zip(groups, texts, strict=True))
        ]
        return {k: float(v) for k, v in scores.items()}, rows
    if cell.test_items is not None:  # decoder classification: generated labels
        preds, texts = decoder_labels(
            acc, acc.unwrap_model(model), cell.tokenizer, task, cell.test_items, cfg
        )
        labels = [it["label"] for it in cell.test_items]
        scores = score(task.metric, preds, labels)
        rows = [
            {"index": i, "input": it["text"], "generated": t, "prediction": p, "label": it["label"]}
            for i, (it, t, p) in enumerate(zip(cell.test_items, texts, preds, strict=True))
        ]
        return {k: float(v) for k, v in scores.items()}, rows
    preds, _, _ = predict(
        acc, model, cell.test, int(cfg.eval.batch_size), cell.tokenizer.pad_token_id, cell.family,
        cell.regression, cell.prefix,
    )  # fmt: skip
    labels = [e.labels for e in cell.test]
    scores = score(task.metric, preds, labels)
    rows = [
        {"index": i, "prediction": p, "label": y} for i, (p, y) in enumerate(zip(preds, labels, strict=True))
    ]
    return {k: float(v) for k, v in scores.items()}, rows


def config_container(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
