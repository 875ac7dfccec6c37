"""How a cell's processes share the work: one small object per parallel backend.

The training loop (trainer.fit) knows none of these; it asks its backend to

* ``prepare(model, make_optimizer)`` -> (model, optimizer, base learning rates): shard or wrap,
* ``micro_batch(model, sync)`` -> a context for one micro-batch's forward/backward (``sync``: the
  last micro-batch of a global batch, whose backward reduces the gradients across processes),
* ``backward(model, loss)``, ``step(model, optimizer, params, max_grad_norm)`` (clip, AdamW, zero),
* ``save(...)`` / ``load(...)`` an epoch checkpoint (train/checkpoint.py).

| backend | when | gradients reduced | clipping | checkpoint |
|---|---|---|---|---|
| :class:`Plain` (``none``/``ddp``) | no FSDP/DeepSpeed config | DDP all-reduce on the last micro-batch (``no_sync`` before) | accelerate's ``clip_grad_norm_`` | rank 0 writes the whole state |
| :class:`Fsdp` (``fsdp``) | an FSDP accelerate config | reduce-scatter once, after the last micro-batch | total norm over the shards | gathered whole, rank 0 writes (resumes on any world size) |
| :class:`DeepSpeed` (``deepspeed-zero<N>``) | a DeepSpeed accelerate config | at the boundary the trainer marks (DeepSpeed's own accumulation off) | DeepSpeed (``gradient_clipping``) | each rank its optimizer partition (same world size to resume) |
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from lora_repro.train import checkpoint as ckpt
from lora_repro.train import sharding

MakeOptimizer = Callable[[nn.Module], torch.optim.Optimizer]


class Plain:
    """One process, or DDP through accelerate."""

    def __init__(self, acc, cfg: DictConfig) -> None:
        self.acc, self.cfg = acc, cfg
        self.kind = "ddp" if acc.num_processes > 1 else "none"

    def prepare(self, model: nn.Module, make_optimizer: MakeOptimizer):
        optimizer = make_optimizer(model)
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        model, optimizer = self.acc.prepare(model, optimizer)
        return model, optimizer, base_lrs

    def micro_batch(self, model, sync: bool):
        return contextlib.nullcontext() if sync else self.acc.no_sync(model)

    def backward(self, model, loss: torch.Tensor) -> None:
        self.acc.backward(loss)

    def clip(self, params: list[torch.Tensor], max_norm: float) -> None:
        self.acc.clip_grad_norm_(params, max_norm)

    def step(self, model, optimizer, params: list[torch.Tensor], max_grad_norm: float | None) -> None:
        if max_grad_norm is not None:
            self.clip(params, float(max_grad_norm))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def save(self, run_dir: Path, inner: nn.Module, model, optimizer, state, best, keep: int) -> None:
        if self.acc.is_main_process:
            ckpt.save_checkpoint(run_dir, inner, optimizer, state, best, keep=keep)

    def load(self, path: Path, inner: nn.Module, model, optimizer):
        acc = self.acc
        return ckpt.load_checkpoint(
            path, inner, optimizer, acc.process_index, acc.num_processes, sharded=False
        )


class Fsdp(Plain):
    """FSDP2 (``fully_shard``) applied by the trainer itself (train/sharding.py), on GPUs and CPUs."""

    def __init__(self, acc, cfg: DictConfig, settings: sharding.FsdpSettings) -> None:
        super().__init__(acc, cfg)
        self.settings, self.kind = settings, "fsdp"

    def prepare(self, model: nn.Module, make_optimizer: MakeOptimizer):
        # shard first: the optimizer must hold the sharded (DTensor) parameters
        sharding.apply_fsdp(model.to(self.acc.device), self.settings)
        optimizer = make_optimizer(model)
        return model, optimizer, [g["lr"] for g in optimizer.param_groups]

    def micro_batch(self, model, sync: bool):
        model.set_requires_gradient_sync(sync)  # reduce-scatter once, after the last micro-batch
        return contextlib.nullcontext()

    def clip(self, params: list[torch.Tensor], max_norm: float) -> None:
        sharding.clip_grad_norm_(params, max_norm)

    def save(self, run_dir: Path, inner: nn.Module, model, optimizer, state, best, keep: int) -> None:
        # every rank gathers, rank 0 writes
        ckpt.save_checkpoint(run_dir, inner, optimizer, state, best, keep, self.acc)


class DeepSpeed(Plain):
    """DeepSpeed ZeRO-1/2/3 through accelerate; the trainer keeps its own accumulation and schedule."""

    def __init__(self, acc, cfg: DictConfig) -> None:
        super().__init__(acc, cfg)
        self.kind = f"deepspeed-zero{int(acc.state.deepspeed_plugin.zero_stage)}"

    def prepare(self, model: nn.Module, make_optimizer: MakeOptimizer):
        optimizer = make_optimizer(model)
        base_lrs = [g["lr"] for g in optimizer.param_groups]
        configure_deepspeed(self.acc, self.cfg, self.acc.num_processes)
        model, optimizer = self.acc.prepare(model, optimizer)
        return model, optimizer, base_lrs

    def micro_batch(self, model, sync: bool):
        model.set_gradient_accumulation_boundary(sync)  # DeepSpeed reduces at the boundary we mark
        return contextlib.nullcontext()

    def backward(self, model, loss: torch.Tensor) -> None:
        model.backward(loss, scale_wrt_gas=False)

    def step(self, model, optimizer, params: list[torch.Tensor], max_grad_norm: float | None) -> None:
        model.step()  # clipping (gradient_clipping = train.max_grad_norm), AdamW, zero grad

    def save(self, run_dir: Path, inner: nn.Module, model, optimizer, state, best, keep: int) -> None:
        # every rank writes its optimizer partition
        ckpt.save_sharded_checkpoint(self.acc, run_dir, inner, model.optimizer, state, best, keep)

    def load(self, path: Path, inner: nn.Module, model, optimizer):
        acc = self.acc
        return ckpt.load_checkpoint(
            path, inner, model.optimizer, acc.process_index, acc.num_processes, sharded=True
        )


def make_backend(acc, cfg: DictConfig, fsdp: sharding.FsdpSettings | None) -> Plain:
    """The backend of this process: FSDP when an FSDP config was given, DeepSpeed under a DeepSpeed one."""
    if fsdp is not None:
        return Fsdp(acc, cfg, fsdp)
    if acc.distributed_type.value == "DEEPSPEED":
        return DeepSpeed(acc, cfg)
    return Plain(acc, cfg)


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
