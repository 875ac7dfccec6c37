"""A rough GPU-hour estimate per cell for ``lora-repro table N --dry-run profile=paper``.

    train FLOPs = T_train * (4 N + 2 |Θ|)         forward 2N, activation gradients 2N, weight gradients 2|Θ|
    eval FLOPs  = epochs * T_val * 2 N            one forward over the validation set per epoch
    gen FLOPs   = n_gen * beams * L_out * 2 N     beam search on the test inputs (NLG tasks, KV cache)
    GPU hours   = (train + eval + gen) / (gpu_tflops * 1e12) / 3600

N is the model's parameter count and |Θ| what the method trains (both counted exactly on the meta
device, as ``lora-repro params`` does), for the model that runs: a count-only role's stand-in
(``model.stand_in=`` or ``model.path=``, lora_repro/models/stand_in.py) when one is given, else the
named model; T_train = epochs * n_train * tokens per example, or with ``train.max_steps`` set
max_steps * batch_size * tokens per example (the eval then runs once per started epoch). Full
fine-tuning gives the familiar 6 N T. ``gpu_tflops`` is the *achieved* rate (default 40: a V100 at
roughly a third of its fp16 tensor peak, the paper's hardware); pass ``gpu_tflops=`` to change it.
Dataset sizes are the hub's train/validation sizes; tokens per example are typical lengths after
formatting, so the estimate is good to a factor of ~2, enough to plan a SLURM allocation. Each task
owns its sizes (``hub_sizes``, a :class:`lora_repro.tasks.HubSizes`, on its registered class); an
MNLI-n subset task (no sizes of its own) takes MNLI's with n_train = its ``subset``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lora_repro.tasks import HubSizes

GPU_TFLOPS = 40.0

BEAMS = 10
EPOCH_KEYS = ("epochs", "num_epochs", "max_epochs", "num_train_epochs")


@dataclass(frozen=True)
class Estimate:
    """GPU hours of one cell and the numbers it came from."""

    gpu_hours: float
    n_total: int
    n_trainable: int
    train_tokens: int


def find_key(cfg: Any, keys: Iterable[str]) -> Any:
    """The first value found under any of ``keys`` anywhere in a nested config (depth-first)."""
    keys = tuple(keys)
    if isinstance(cfg, dict):
        for k in keys:
            if isinstance(cfg.get(k), (int, float)) and not isinstance(cfg.get(k), bool):
                return cfg[k]
        for v in cfg.values():
            found = find_key(v, keys)
            if found is not None:
                return found
    return None


def config_epochs(config: dict[str, Any]) -> int | None:
    """The cell's training epochs: ``train.epochs`` of its resolved config, else any epochs-like key."""
    train = config.get("train")
    if isinstance(train, dict) and isinstance(train.get("epochs"), int):
        return train["epochs"]
    found = config.get("epochs") if isinstance(config.get("epochs"), int) else find_key(config, EPOCH_KEYS)
    return int(found) if found is not None else None  # 0: no training step (a few-shot cell)


def config_max_steps(config: dict[str, Any]) -> tuple[int | None, int | None]:
    """``train.max_steps`` and ``train.batch_size`` of a resolved config (or of the cached inputs)."""
    train = config.get("train") if isinstance(config.get("train"), dict) else config
    steps, batch = train.get("max_steps"), train.get("batch_size")
    ok = [isinstance(v, int) and not isinstance(v, bool) for v in (steps, batch)]
    return (steps if ok[0] else None), (batch if ok[1] else None)


MODEL_KEYS = ("name", "path", "stand_in")


def estimate_inputs(config: dict[str, Any]) -> dict[str, Any]:
    """What :func:`estimate_cell` reads from a resolved cell config, small enough for the grid's
    resolver cache: ``epochs``, ``max_steps``, ``batch_size`` and the model's name/path/stand-in."""
    steps, batch = config_max_steps(config)
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    return {
        "epochs": config_epochs(config),
        "max_steps": steps,
        "batch_size": batch,
        "model": {k: model.get(k) for k in MODEL_KEYS if model.get(k) is not None},
    }


def played_model(model: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config of the model that runs in the paper profile: ``model``'s file with the cell's
    ``model.path`` / ``model.stand_in`` over it, its ``hf_config`` the stand-in's when one is given."""
    from lora_repro.config import load_group_file
    from lora_repro.models.stand_in import played_config

    given = config.get("model") if isinstance(config.get("model"), dict) else {}
    base = load_group_file("model", str(given.get("name") or model))
    return played_config({**base, **{k: given[k] for k in MODEL_KEYS if given.get(k) is not None}}, "paper")


@lru_cache(maxsize=64)
def _counts(model_json: str, method_items: tuple[tuple[str, Any], ...]) -> tuple[int, int]:
    from lora_repro.commands.params import count_for

    counts = count_for(
        json.loads(model_json), {k: (list(v) if isinstance(v, tuple) else v) for k, v in method_items}
    )
    return counts["total"], counts["trainable"]


def task_sizes() -> dict[str, HubSizes]:
    """The hub sizes of every registered task that has them (task name -> ``HubSizes``)."""
    from lora_repro.tasks import TASK_CLASSES

    return {name: cls.hub_sizes for name, cls in TASK_CLASSES.items() if cls.hub_sizes is not None}


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def sizes_of(task: str) -> HubSizes:
    """The task's hub sizes; an MNLI-n subset's are MNLI's with ``n_train`` its subset size."""
    from lora_repro.config import load_group_file
    from lora_repro.tasks import TASK_CLASSES

    sizes = task_sizes()
    if task in sizes:
        return sizes[task]
    parent = getattr(TASK_CLASSES.get(task), "config", None)
    subset = load_group_file("task", task).get("subset") if task in TASK_CLASSES else None
    if parent in sizes and isinstance(subset, int) and subset > 0:
        return replace(sizes[parent], n_train=subset)
    raise ValueError(f"no size known for task {task!r}; known: {sorted(sizes)}")


def gpu_hours(
    n_total: int,
    n_trainable: int,
    task: str,
    epochs: int | None = None,
    tflops: float = GPU_TFLOPS,
    max_steps: int | None = None,
    batch_size: int | None = None,
) -> Estimate:
    """The formula of the module docstring for one cell (``max_steps`` x ``batch_size`` examples
    when ``max_steps`` is given, else ``epochs`` over the training set)."""
    size = sizes_of(task)
    epochs = size.default_epochs if epochs is None else epochs
    train_tokens = epochs * size.n_train * size.tokens
    if max_steps is not None:
        if not batch_size:
            raise ValueError(
                f"train.max_steps={max_steps} needs train.batch_size for an estimate, got {batch_size!r}"
            )
        train_tokens = max_steps * batch_size * size.tokens
        epochs = math.ceil(max_steps * batch_size / size.n_train)
    flops = train_tokens * (4 * n_total + 2 * n_trainable) + epochs * size.n_val * size.tokens * 2 * n_total
    flops += size.n_test_inputs * BEAMS * size.gen_len * 2 * n_total
    return Estimate(flops / (tflops * 1e12) / 3600, n_total, n_trainable, train_tokens)


def estimate_cell(
    model: str, method: dict[str, Any], task: str, config: dict[str, Any], tflops: float = GPU_TFLOPS
) -> Estimate:
    """GPU hours of one paper-profile cell: exact N and |Θ| of the model that runs (a stand-in's when the
    cell names one) and of the method, epochs or ``train.max_steps`` from its config."""
    played = json.dumps(played_model(model, config), sort_keys=True)
    total, trainable = _counts(played, tuple(sorted((k, _hashable(v)) for k, v in method.items())))
    steps, batch = config_max_steps(config)
    return gpu_hours(total, trainable, task, config_epochs(config), tflops, steps, batch)
