"""Sharded parameters (FSDP, DeepSpeed ZeRO-3): FSDP's settings from the accelerate config and its
wrapping, and the helpers that keep checkpoints, evaluation and generation right when each rank
holds only a slice of the parameters.

The trainer applies PyTorch's FSDP2 (``torch.distributed.fsdp.fully_shard``) itself, from the
``fsdp_config`` block of an ``accelerate launch --config_file`` (which exports it as ``FSDP_*``
environment variables), instead of handing the model to accelerate's FSDP plugin. One code path
then runs on GPUs (NCCL) and on CPUs (gloo): accelerate 1.x enables its plugin only on accelerator
devices, so its FSDP could not be tested on a CPU machine at all. accelerate still starts the
processes, picks the device and backend and runs autocast.

What changes when parameters are sharded (FSDP: each parameter is a DTensor holding this rank's
slice; ZeRO-3: a parameter whose data is gathered around each forward pass):

* checkpoints gather the trainable parameters into whole tensors (a collective call on every rank;
  rank 0 writes); FSDP gathers the AdamW moments too, so its checkpoint has the same files as a
  one-process one and resumes on any number of processes (ZeRO-3 keeps one optimizer partition per
  rank, train/checkpoint.py);
* every forward pass is a collective (the layer's parameters are all-gathered), so evaluation and
  beam search run in lockstep: every rank makes the same number of forward calls (a rank with no
  input left decodes a dummy one; a beam search that is done keeps stepping until all ranks are).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

WRAP_POLICIES = ("TRANSFORMER_BASED_WRAP", "NO_WRAP")


@dataclass(frozen=True)
class FsdpSettings:
    """The parts of accelerate's ``fsdp_config`` the trainer honours."""

    reshard_after_forward: bool = True
    wrap_policy: str = "TRANSFORMER_BASED_WRAP"
    layer_classes: tuple[str, ...] = ()  # empty: the architecture's transformer blocks (fsdp_units)


def _flag(env: dict[str, str], key: str, default: bool) -> bool:
    value = env.get(key)
    if value is None or value == "":
        return default
    if value.lower() not in ("true", "false"):
        raise ValueError(f"{key}={value!r}; allowed: true, false")
    return value.lower() == "true"


def fsdp_settings(env: dict[str, str] | None = None) -> FsdpSettings | None:
    """The FSDP settings ``accelerate launch`` exported, or None without an FSDP config.

    Settings the trainer cannot honour are refused with the value and what is allowed, rather than
    silently ignored.
    """
    env = dict(os.environ if env is None else env)
    if env.get("ACCELERATE_USE_FSDP", "false").lower() != "true":
        return None
    version = env.get("FSDP_VERSION", "1")
    if version != "2":
        raise ValueError(
            f"fsdp_version={version}: the trainer shards with FSDP2 (torch fully_shard); allowed: 2 "
            "(set fsdp_config.fsdp_version: 2, see configs/accelerate/fsdp.yaml)"
        )
    refused = {
        "FSDP_OFFLOAD_PARAMS": "parameter offload to CPU",
        "FSDP_ACTIVATION_CHECKPOINTING": "activation checkpointing",
        "FSDP_CPU_RAM_EFFICIENT_LOADING": "rank-0-only loading (every rank loads the model itself)",
    }
    for key, what in refused.items():
        if _flag(env, key, False):
            raise ValueError(
                f"{key.lower().replace('fsdp_', 'fsdp_config.fsdp_')}=true ({what}) is not supported by "
                "the trainer's FSDP; allowed: false"
            )
    policy = env.get("FSDP_AUTO_WRAP_POLICY") or "TRANSFORMER_BASED_WRAP"
    if policy not in WRAP_POLICIES:
        raise ValueError(f"fsdp_auto_wrap_policy={policy!r}; allowed: {list(WRAP_POLICIES)}")
    state_dict = env.get("FSDP_STATE_DICT_TYPE") or "FULL_STATE_DICT"
    if state_dict != "FULL_STATE_DICT":
        raise ValueError(
            f"fsdp_state_dict_type={state_dict!r}: epoch checkpoints always gather whole tensors to "
            "rank 0; allowed: FULL_STATE_DICT"
        )
    classes = tuple(
        c.strip() for c in (env.get("FSDP_TRANSFORMER_CLS_TO_WRAP") or "").split(",") if c.strip()
    )
    return FsdpSettings(
        reshard_after_forward=_flag(env, "FSDP_RESHARD_AFTER_FORWARD", True),
        wrap_policy=policy,
        layer_classes=classes,
    )


def fsdp_units(model: nn.Module, settings: FsdpSettings) -> list[nn.Module]:
    """The modules that become FSDP units of their own (the root takes the rest): the modules of the
    classes ``fsdp_transformer_layer_cls_to_wrap`` names, else the architecture's transformer blocks
    (models/arch.py; DeBERTa-v2 declares no ``_no_split_modules``), else ``_no_split_modules``."""
    if settings.wrap_policy != "TRANSFORMER_BASED_WRAP":
        return []
    present = {type(m).__name__ for m in model.modules()}
    if settings.layer_classes:
        names = set(settings.layer_classes)
        if not names & present:
            raise ValueError(
                f"fsdp_transformer_layer_cls_to_wrap={sorted(names)} matches no module of "
                f"{type(model).__name__}; its layer classes include {sorted(present)[:12]}"
            )
        return [m for m in model.modules() if type(m).__name__ in names and m is not model]
    from lora_repro.models.arch import spec_for

    try:
        return list(spec_for(model).get_blocks(model))
    except (KeyError, ValueError):
        names = set(getattr(model, "_no_split_modules", None) or ())
        return [m for m in model.modules() if type(m).__name__ in names and m is not model]


def apply_fsdp(model: nn.Module, settings: FsdpSettings) -> nn.Module:
    """Shard ``model`` in place: each unit (:func:`fsdp_units`) is sharded on its own, then the root.

    Build the optimizer afterwards: sharding replaces every parameter with a DTensor parameter.
    """
    from torch.distributed.fsdp import fully_shard

    for unit in fsdp_units(model, settings):
        fully_shard(unit, reshard_after_forward=settings.reshard_after_forward)
    fully_shard(model, reshard_after_forward=settings.reshard_after_forward)
    return model


def is_dtensor(t) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(t, DTensor)


def is_zero3(p) -> bool:
    """A parameter partitioned by DeepSpeed ZeRO-3 (its own data is empty between forward passes)."""
    return hasattr(p, "ds_id")


def params_sharded(model: nn.Module) -> bool:
    """True when the model's parameters are sharded across ranks (forward passes are collective):
    FSDP's DTensors or DeepSpeed ZeRO-3's partitioned parameters."""
    return any(is_dtensor(p) or is_zero3(p) for p in model.parameters())


@torch.no_grad()
def full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor of a DTensor or a ZeRO-3 parameter, else ``t`` (for those two a collective:
    every rank must call it, in the same order)."""
    if is_dtensor(t):
        return t.full_tensor()
    if is_zero3(t):
        import deepspeed

        with deepspeed.zero.GatheredParameters([t], modifier_rank=None):
            return t.data.detach().clone()
    return t


@torch.no_grad()
def assign(p: torch.Tensor, t: torch.Tensor) -> None:
    """Set parameter ``p`` from the whole tensor ``t`` (FSDP / ZeRO-3: into this rank's shard; a
    collective there)."""
    if is_zero3(p):
        import deepspeed

        with deepspeed.zero.GatheredParameters([p], modifier_rank=0):  # re-partitioned on exit
            p.data.copy_(t.to(p.dtype))
        return
    p.copy_(shard_like(t.to(p.dtype), p))


def shard_like(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A whole tensor cut the way ``like`` (a DTensor parameter) is; other tensors pass through."""
    if not is_dtensor(like) or tuple(t.shape) != tuple(like.shape):
        return t
    from torch.distributed.tensor import distribute_tensor

    return distribute_tensor(t.to(like.dtype), like.device_mesh, like.placements)


def all_ranks(flag: bool, device) -> bool:
    """True on every rank when ``flag`` is true on every rank (a collective)."""
    import torch.distributed as dist

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def clip_grad_norm_(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip the gradients of (possibly sharded) parameters to a total norm of ``max_norm``."""
    grads = [p.grad for p in params if p.grad is not None]
    total = torch.nn.utils.get_total_norm(grads)
    total = full(total)
    torch.nn.utils.clip_grads_with_norm_(params, max_norm, total)
    return total
