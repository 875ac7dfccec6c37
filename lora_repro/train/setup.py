"""Everything a cell needs before its first step: accelerator, task, model + method, data, optimizer."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from lora_repro.train.data import Example, encode, subset
from lora_repro.train.sharding import FsdpSettings, fsdp_settings


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the cell stops without a result."""


@dataclass
class RunningCell:
    """The objects of one running cell (the grid's plan of a cell is grid/cells.py ``Cell``)."""

    accelerator: Any
    task: Any
    model: nn.Module
    tokenizer: Any
    family: str
    regression: bool
    prefix: bool
    params: dict[str, int]
    train: list[Example]
    validation: list[Example]
    test: list[Example] | None
    test_groups: list[dict] | None
    source: str
    val_items: list[dict] | None = None  # decoder classification: prompts + labels (generated labels)
    test_items: list[dict] | None = None
    fsdp: FsdpSettings | None = None  # the trainer shards the model (train/sharding.py)


def mixed_precision(value: str) -> str:
    """``auto`` -> bf16 on GPUs that have it, fp16 on other GPUs, no on CPU."""
    allowed = ("auto", "no", "bf16", "fp16")
    if value not in allowed:
        raise ValueError(f"train.mixed_precision={value!r}; allowed: {list(allowed)}")
    if value != "auto":
        return value
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "no"


def make_accelerator(cfg: DictConfig):
    """An Accelerator for this process (state reset first when running in-process, single rank), and
    the FSDP settings of an FSDP accelerate config (None otherwise).

    Under FSDP the trainer shards the model itself (train/sharding.py), so accelerate is told to run
    plain data parallel. Several processes without a GPU use gloo (``cpu=True``): accelerate would
    otherwise start every process as an independent rank 0 of a world of one.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        AcceleratorState._reset_state(reset_partial_state=True)
    precision = mixed_precision(cfg.train.mixed_precision)
    fsdp = fsdp_settings()
    if fsdp is not None:
        if precision == "fp16":
            raise ValueError(
                "train.mixed_precision=fp16 under FSDP: the trainer's FSDP has no sharded loss scaler; "
                "allowed: bf16, no"
            )
        os.environ["ACCELERATE_USE_FSDP"] = "false"
    # accelerate ignores DeepSpeed when asked for cpu=True (plain gloo DDP instead): under a DeepSpeed
    # config the device is left to DeepSpeed, whose CPU accelerator takes over where there is no GPU
    deepspeed = os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    cpu = (bool(cfg.accelerate.cpu) or (several and not torch.cuda.is_available())) and not deepspeed
    acc = Accelerator(mixed_precision=precision, cpu=cpu)
    _fix_cpu_deepspeed_ranks(acc)
    load_whole_under_zero3(acc)
    return acc, fsdp


def load_whole_under_zero3(acc) -> None:
    """Under DeepSpeed ZeRO-3 the model is loaded whole and the method applied to whole layers; the
    engine partitions it afterwards. accelerate registers its DeepSpeed config with transformers even
    with ``zero3_init_flag: false``, which makes ``from_pretrained`` partition while loading (the
    base fingerprint would read an empty embedding), so the registration is undone here."""
    if acc.distributed_type.value != "DEEPSPEED":
        return
    plugin = acc.state.deepspeed_plugin
    if int(plugin.zero_stage) != 3:
        return
    if bool(getattr(plugin, "zero3_init_flag", False)):
        raise ValueError(
            "deepspeed_config.zero3_init_flag=true: the model is loaded whole and the adaptation method "
            "applied before DeepSpeed partitions it; allowed: false"
        )
    from transformers.integrations import unset_hf_deepspeed_config

    unset_hf_deepspeed_config()


def _fix_cpu_deepspeed_ranks(acc) -> None:
    """Under DeepSpeed without a GPU, accelerate initialises the gloo process group but records one
    process of index 0 on every rank (its CPU branch finds no backend), so every rank would take the
    same data and write the same files. Take rank and world size from torch.distributed (a no-op
    wherever accelerate got them right, e.g. on GPUs)."""
    import torch.distributed as dist
    from accelerate.state import AcceleratorState, PartialState

    if acc.distributed_type.value != "DEEPSPEED" or not dist.is_initialized():
        return
    world, rank = dist.get_world_size(), dist.get_rank()
    if acc.num_processes != world or acc.process_index != rank:
        for shared in (
            PartialState._shared_state,
            AcceleratorState._shared_state,
        ):  # the latter copies the former
            shared["num_processes"], shared["process_index"] = world, rank
            shared["local_process_index"] = int(os.environ.get("LOCAL_RANK", rank))


def method_options(cfg: DictConfig) -> dict[str, Any]:
    opts = OmegaConf.to_container(cfg.method, resolve=True)
    opts.pop("name", None)
    return opts


def make_task(cfg: DictConfig):
    from lora_repro.tasks import get_task

    opts = OmegaConf.to_container(cfg.task, resolve=True)
    name, source = opts.pop("name"), opts.pop("source", None)
    opts["cache_dir"] = cfg.profile.cache_dir
    return get_task(name, profile=cfg.profile.name, source=source, **opts)


def init_from_upstream(model: nn.Module, adapter_dir: Path) -> int:
    """Load the non-head trainable tensors of an upstream cell's adapter (MNLI -> MRPC/RTE/STS-B);
    the new task's head keeps its own initialisation. Returns the number of tensors loaded."""
    from lora_repro.methods.io import load_trainable

    return load_trainable(model, adapter_dir, require="exact", skip_heads=True, check_base=True)


def build_cell(cfg: DictConfig, init_dir: Path | None) -> RunningCell:
    """Load the task, model, method and data of a cell (deterministic in ``cfg.seed``)."""
    from accelerate.utils import set_seed

    from lora_repro.methods import apply_method, count_parameters
    from lora_repro.models.load import load_model
    from lora_repro.tiny.pretrain import with_tiny_path

    if cfg.train.num_threads:
        torch.set_num_threads(int(cfg.train.num_threads))
    accelerator, fsdp = make_accelerator(cfg)
    task = make_task(cfg)
    family = cfg.model.kind
    if family not in ("encoder", "decoder"):
        raise ValueError(f"model.kind={family!r}; allowed: encoder, decoder")
    regression = task.kind == "regression"
    set_seed(int(cfg.seed))
    loaded = load_model(
        with_tiny_path(cfg.model, cfg.profile.name, cfg.profile.cache_dir),
        cfg.profile.name,
        cfg.profile.cache_dir,
        num_labels=task.num_labels if family == "encoder" else None,
        regression=regression,
        cls_dropout=cfg.train.cls_dropout,
    )
    model, tok = loaded.model, loaded.tokenizer
    apply_method(model, cfg.method.name, **method_options(cfg))
    if init_dir is not None:
        init_from_upstream(model, init_dir)
    params = count_parameters(model)
    data = load_splits(cfg, task, tok, family)
    return RunningCell(
        accelerator=accelerator,
        task=task,
        model=model,
        tokenizer=tok,
        family=family,
        regression=regression,
        prefix=hasattr(model, "prefix_tuning"),
        params=params,
        source=loaded.source,
        fsdp=fsdp,
        **data,
    )


def load_splits(cfg: DictConfig, task, tok, family: str) -> dict[str, Any]:
    """The cell's data: encoded train/validation(/test) examples, NLG test groups, and for decoder
    classification the validation/test prompts whose labels are generated (RunningCell's fields)."""
    ml = int(cfg.train.max_length)
    train = encode(task, subset(task.load("train"), cfg.train.max_train_examples), tok, family, ml)
    val_ds = subset(task.load("validation"), cfg.eval.max_validation_examples)
    val = encode(task, val_ds, tok, family, ml)
    val_items = None
    if task.kind != "generation" and family == "decoder":  # GPT-3 MNLI: the label is generated
        val_items = [task.format(r, family) for r in val_ds]
    test = load_test_role(cfg, task, tok, family)
    if not train:
        raise ValueError(f"task {task.name}: the training split is empty")
    return {"train": train, "validation": val, "val_items": val_items, **test}


def load_test_role(cfg: DictConfig, task, tok, family: str) -> dict[str, Any]:
    """The test role as a cell evaluates it (``test``, ``test_groups``, ``test_items`` of RunningCell):
    NLG eval groups, else encoded examples and, for decoder classification, the prompts whose labels
    are generated. ``lora-repro eval`` evaluates an adapter on exactly this."""
    test_ds = task.load("test")
    if task.kind == "generation":
        groups = task.eval_groups(test_ds, family)
        if cfg.eval.max_test_examples is not None:
            groups = groups[: int(cfg.eval.max_test_examples)]
        return {"test": None, "test_groups": groups, "test_items": None}
    test_ds = subset(test_ds, cfg.eval.max_test_examples)
    items = [task.format(r, family) for r in test_ds] if family == "decoder" else None
    test = encode(task, test_ds, tok, family, int(cfg.train.max_length))
    return {"test": test, "test_groups": None, "test_items": items}


def warmup_steps(cfg: DictConfig, total_steps: int, train: list[Example]) -> int:
    """Warm-up in optimizer steps from exactly one of warmup_ratio / warmup_steps / warmup_tokens."""
    t = cfg.train
    given = [k for k in ("warmup_ratio", "warmup_steps", "warmup_tokens") if t.get(k) is not None]
    if len(given) > 1:
        raise ValueError(f"give one of train.warmup_ratio / warmup_steps / warmup_tokens, got {given}")
    if not given:
        return 0
    if given[0] == "warmup_ratio":
        return int(math.ceil(float(t.warmup_ratio) * total_steps))
    if given[0] == "warmup_steps":
        return int(t.warmup_steps)
    tokens_per_step = sum(len(e.input_ids) for e in train) / len(train) * int(t.batch_size)
    return int(math.ceil(float(t.warmup_tokens) / tokens_per_step))


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up from 0, then linear decay to 0 at ``total`` (transformers' linear schedule)."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def make_optimizer(cfg: DictConfig, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW over what trains; no weight decay on biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "LayerNorm" in name or ".ln_" in name else decay).append(p)
    t = cfg.train
    groups = [
        {"params": decay, "weight_decay": float(t.weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    scale = t.get("lr_scale")
    lr = float(t.lr) * (1.0 if scale is None else float(scale))
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(t.adam_betas), eps=float(t.adam_eps))
