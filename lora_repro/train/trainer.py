"""The training loop of one cell (one rank): epochs, evaluation, best epoch, checkpoints, test.

Per optimizer step: the global batch (``train.batch_size`` examples, the same whatever the number of
processes) is cut into ``grad_accum`` micro-batches and each of those into one part per process.
Every part's summed loss is divided by the number of loss terms of the *whole* global batch (target
tokens for LM, examples for classification) and multiplied by the number of processes, so DDP's
gradient average is exactly the gradient of the global batch's mean loss. Then: clipping, AdamW,
the linear schedule. After each epoch: validation, best-epoch bookkeeping, an epoch checkpoint.
At the end the best epoch's weights are restored, saved as the adapter, and evaluated on test.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lora_repro.train import checkpoint as ckpt
from lora_repro.train import sharding
from lora_repro.train.data import collate, epoch_order, global_batches, micro_batches
from lora_repro.train.evaluate import (
    decoder_labels,
    forward,
    generate_groups,
    is_better,
    loss_sum,
    metric_kwargs,
    predict,
    validation_metrics,
)
from lora_repro.train.setup import Cell, TrainingDiverged, lr_factor, make_optimizer, warmup_steps


def compute_loss(model, batch, cell: Cell, smoothing: float) -> torch.Tensor:
    """Summed loss of one micro-batch (a seam tests patch to inject a NaN)."""
    logits = forward(model, batch, cell.family, cell.prefix)
    return loss_sum(logits, batch["labels"], cell.family, cell.regression, smoothing)


def select_key(cfg: DictConfig, cell: Cell) -> tuple[str, str]:
    """The validation metric that picks the best epoch: eval.select, else loss (NLG) or the task's."""
    if cfg.eval.select is not None:
        key, mode = list(cfg.eval.select)
        return str(key), str(mode)
    if cell.task.kind == "generation":
        return "loss", "min"
    return tuple(cell.task.select_metric)  # type: ignore[return-value]


def configure_deepspeed(acc, cfg: DictConfig, world: int) -> bool:
    """Fill the DeepSpeed config from the cell (True when running under DeepSpeed).

    The trainer keeps its own accumulation (it marks the boundary of each global batch), so DeepSpeed
    sees ``gradient_accumulation_steps=1`` and micro-batches of ``batch_size / grad_accum / world``;
    clipping moves into DeepSpeed (``gradient_clipping = train.max_grad_norm``). ZeRO-3 partitions
    the parameters when the engine is built (setup.load_whole_under_zero3).
    """
    if acc.distributed_type.value != "DEEPSPEED":
        return False
    plugin = acc.state.deepspeed_plugin
    if int(plugin.zero_stage) not in (0, 1, 2, 3):
        raise ValueError(f"DeepSpeed zero_stage={plugin.zero_stage}; allowed: 0, 1, 2, 3")
    t = cfg.train
    conf = plugin.deepspeed_config
    launch = getattr(cfg, "accelerate", None)
    extra = launch.get("deepspeed") if launch is not None else None
    if extra:
        _merge_deepspeed(conf, OmegaConf.to_container(extra, resolve=True))
    conf["train_micro_batch_size_per_gpu"] = int(t.batch_size) // int(t.grad_accum) // world
    conf["gradient_accumulation_steps"] = 1
    conf["train_batch_size"] = conf["train_micro_batch_size_per_gpu"] * world
    conf["gradient_clipping"] = float(t.max_grad_norm) if t.max_grad_norm is not None else 0.0
    for key, ours in (("optimizer", "AdamW"), ("scheduler", "linear schedule")):
        if key in conf:
            raise ValueError(
                f"the DeepSpeed config names a {key}; the trainer brings its own {ours}: remove it"
            )
    return True


TRAINER_OWNED_DS_KEYS = (
    "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size", "gradient_clipping",
    "optimizer", "scheduler",
)  # fmt: skip


def _merge_deepspeed(conf: dict, extra: dict, path: str = "") -> None:
    """Merge ``accelerate.deepspeed`` into the DeepSpeed config (nested dicts merged key by key)."""
    for key, value in extra.items():
        if not path and key in TRAINER_OWNED_DS_KEYS:
            raise ValueError(
                f"accelerate.deepspeed.{key}: the trainer sets it from train.* (batch_size, grad_accum, "
                f"max_grad_norm, its own AdamW and schedule); allowed: any other DeepSpeed key"
            )
        if isinstance(value, dict) and isinstance(conf.get(key), dict):
            _merge_deepspeed(conf[key], value, f"{path}{key}.")
        else:
            conf[key] = value


def parallel_kind(acc, ds: bool, fsdp: bool, world: int) -> str:
    """How the cell's processes share the work: none, ddp, fsdp, or deepspeed-zero<stage>."""
    if fsdp:
        return "fsdp"
    if ds:
        return f"deepspeed-zero{int(acc.state.deepspeed_plugin.zero_stage)}"
    return "ddp" if world > 1 else "none"


def record_base_fingerprint(model) -> None:
    """Keep the base model's fingerprint for the adapter, read from the whole embedding."""
    from lora_repro.methods.io import BASE_FINGERPRINT_ATTR, base_fingerprint

    if getattr(model, BASE_FINGERPRINT_ATTR, None) is None:
        setattr(model, BASE_FINGERPRINT_ATTR, base_fingerprint(model))


def fit(
    cfg: DictConfig, cell: Cell, run_dir: Path, logger
) -> tuple[ckpt.TrainState, dict[str, torch.Tensor]]:
    """Train to the last epoch (resuming from the newest checkpoint); returns state and best weights."""
    from tqdm.auto import tqdm

    acc = cell.accelerator
    t = cfg.train
    world, rank = acc.num_processes, acc.process_index
    bs, ga = int(t.batch_size), int(t.grad_accum)
    if bs % ga or bs // ga < world:
        raise ValueError(
            f"train.batch_size={bs} must be a multiple of grad_accum={ga} with at least one example per "
            f"process per micro-batch ({world} processes)"
        )
    epochs = int(t.epochs)
    steps_per_epoch = len(global_batches(list(range(len(cell.train))), bs))
    total = epochs * steps_per_epoch
    warm = warmup_steps(cfg, total, cell.train)
    model = cell.model
    record_base_fingerprint(model)  # before FSDP / ZeRO-3 cut the embedding into shards
    fsdp = cell.fsdp is not None
    if fsdp:  # shard first: the optimizer must hold the sharded (DTensor) parameters
        sharding.apply_fsdp(model.to(acc.device), cell.fsdp)
    optimizer = make_optimizer(cfg, model)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    ds = configure_deepspeed(acc, cfg, world)
    if not fsdp:
        model, optimizer = acc.prepare(model, optimizer)
    inner = acc.unwrap_model(model)
    state, best = ckpt.TrainState(), None
    found = ckpt.epoch_dirs(run_dir)
    if found:
        state, best = ckpt.load_checkpoint(
            found[-1][1], inner, model.optimizer if ds else optimizer, rank, world, sharded=ds
        )
    key, mode = select_key(cfg, cell)
    logger.start(
        {"num_processes": world, "parallel": parallel_kind(acc, ds, fsdp, world),
         "device": str(acc.device), "mixed_precision": acc.mixed_precision,
         "resumed_from_epoch": state.epoch, "steps_per_epoch": steps_per_epoch, "warmup_steps": warm}
    )  # fmt: skip
    pad = cell.tokenizer.pad_token_id
    smoothing = float(t.label_smoothing or 0.0)
    params = [p for p in model.parameters() if p.requires_grad]
    for epoch in range(state.epoch + 1, epochs + 1):
        torch.manual_seed(1_000_003 * int(cfg.seed) + 1009 * epoch + rank)
        model.train()
        batches = global_batches(epoch_order(len(cell.train), int(cfg.seed), epoch), bs)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", disable=not acc.is_main_process, mininterval=1.0)
        ep_loss, ep_n, t0, seen = 0.0, 0, time.perf_counter(), 0
        for gb in bar:
            n_terms = sum(cell.train[i].n_targets for i in gb)
            parts = micro_batches(gb, ga, world, rank)
            step_loss = 0.0
            for j, part in enumerate(parts):
                weight = 1.0 if part else 0.0
                exs = [cell.train[i] for i in (part or gb[:1])]
                batch = {
                    k: v.to(acc.device) for k, v in collate(exs, pad, cell.family, cell.regression).items()
                }
                sync = j == len(parts) - 1
                if ds:  # DeepSpeed reduces gradients at the boundary we mark (its own accumulation is off)
                    model.set_gradient_accumulation_boundary(sync)
                if fsdp:  # reduce-scatter the gradients once, after the last micro-batch
                    model.set_requires_gradient_sync(sync)
                with contextlib.nullcontext() if sync or ds or fsdp else acc.no_sync(model), acc.autocast():
                    loss = compute_loss(model, batch, cell, smoothing)
                    if not torch.isfinite(loss):
                        raise TrainingDiverged(
                            f"loss is {loss.item()} at epoch {epoch}, step {state.step + 1} "
                            f"(train.lr={t.lr}); the cell stops without a result"
                        )
                    scaled = loss * (weight * world / n_terms)
                    if ds:
                        model.backward(scaled, scale_wrt_gas=False)
                    else:
                        acc.backward(scaled)
                step_loss += float(loss.detach()) * weight
            factor = lr_factor(state.step, warm, total)
            for g, lr in zip(optimizer.param_groups, base_lrs, strict=True):
                g["lr"] = lr * factor
            if ds:
                model.step()  # clipping (gradient_clipping = train.max_grad_norm), AdamW, zero grad
            else:
                if t.max_grad_norm is not None and fsdp:
                    sharding.clip_grad_norm_(params, float(t.max_grad_norm))
                elif t.max_grad_norm is not None:
                    acc.clip_grad_norm_(params, float(t.max_grad_norm))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            state.step += 1
            ep_loss += step_loss
            ep_n += n_terms
            seen += len(gb)
            rate = seen / max(1e-9, time.perf_counter() - t0)
            bar.set_postfix(
                loss=f"{step_loss * world / n_terms:.4f}", ex_s=f"{rate:.0f}", refresh=False
            )  # redraw at mininterval only
            logger.step(state.step, epoch, step_loss * world / n_terms, base_lrs[0] * factor)
        if world > 1:
            tot = acc.reduce(torch.tensor([ep_loss], dtype=torch.float64, device=acc.device), reduction="sum")
            ep_loss = float(tot[0])
        val = validation_metrics(
            acc, model, cell.task, cell.validation, cfg, pad, cell.family, cell.regression, cell.prefix,
            cell.val_items, cell.tokenizer,
        )  # fmt: skip
        if key not in val:
            raise ValueError(
                f"validation has no metric {key!r} to select the best epoch; available: {sorted(val)}"
            )
        state.epoch = epoch
        record = {"epoch": epoch, "train_loss": ep_loss / max(1, ep_n), "validation": val}
        state.history.append(record)
        if is_better(val[key], state.best_value, mode):
            state.best_epoch, state.best_value = epoch, float(val[key])
            best = ckpt.trainable_state(inner)
        logger.epoch(state.step, record)
        if cfg.checkpoint.every_epoch and ds:  # every rank writes its optimizer partition
            ckpt.save_sharded_checkpoint(
                acc, run_dir, inner, model.optimizer, state, best, int(cfg.checkpoint.keep)
            )
        elif cfg.checkpoint.every_epoch and fsdp:  # every rank gathers, rank 0 writes
            ckpt.save_checkpoint(run_dir, inner, optimizer, state, best, int(cfg.checkpoint.keep), acc)
        elif cfg.checkpoint.every_epoch and acc.is_main_process:
            ckpt.save_checkpoint(run_dir, inner, optimizer, state, best, keep=int(cfg.checkpoint.keep))
        acc.wait_for_everyone()
    if best is None:  # every epoch was already done before this (resumed) session
        best = ckpt.trainable_state(inner)
    cell.model = model
    return state, best


def test_metrics(cfg: DictConfig, cell: Cell) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Metrics of the (best) model on the test role and the per-input predictions."""
    from tqdm.auto import tqdm

    from lora_repro.metrics import score

    acc, model, task = cell.accelerator, cell.model, cell.task
    if cell.test_groups is not None:
        groups = cell.test_groups
        bar = tqdm(total=len(groups), desc="generate test", disable=not acc.is_main_process, mininterval=1.0)
        texts = generate_groups(acc, acc.unwrap_model(model), cell.tokenizer, groups, cfg, bar)
        bar.close()
        refs = [g["references"] for g in groups]
        scores = score(task.metric, texts, refs, **metric_kwargs(task.metric, groups))
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
