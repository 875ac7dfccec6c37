"""A rough GPU-hour estimate per cell for ``lora-repro table N --dry-run profile=paper``.

    train FLOPs = T_train * (4 N + 2 |Θ|)         forward 2N, activation gradients 2N, weight gradients 2|Θ|
    eval FLOPs  = epochs * T_val * 2 N            one forward over the validation set per epoch
    gen FLOPs   = n_gen * beams * L_out * 2 N     beam search on the test inputs (NLG tasks, KV cache)
    GPU hours   = (train + eval + gen) / (gpu_tflops * 1e12) / 3600

N is the model's parameter count and |Θ| what the method trains (both counted exactly on the meta
device, as ``lora-repro params`` does); T_train = epochs * n_train * tokens per example. Full
fine-tuning gives the familiar 6 N T. ``gpu_tflops`` is the *achieved* rate (default 40: a V100 at
roughly a third of its fp16 tensor peak, the paper's hardware); pass ``gpu_tflops=`` to change it.
Dataset sizes are the hub's train/validation sizes; tokens per example are typical lengths after
formatting, so the estimate is good to a factor of ~2, enough to plan a SLURM allocation. Each task
owns its sizes (``hub_sizes``, a :class:`lora_repro.tasks.HubSizes`, on its registered class).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
    return int(found) if found else None


@lru_cache(maxsize=64)
def _counts(model: str, method_items: tuple[tuple[str, Any], ...]) -> tuple[int, int]:
    from lora_repro.commands.params import count_for

    counts = count_for(model, dict(method_items))
    return counts["total"], counts["trainable"]


def task_sizes() -> dict[str, HubSizes]:
    """The hub sizes of every registered task that has them (task name -> ``HubSizes``)."""
    from lora_repro.tasks import TASK_CLASSES

    return {name: cls.hub_sizes for name, cls in TASK_CLASSES.items() if cls.hub_sizes is not None}


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def gpu_hours(
    n_total: int, n_trainable: int, task: str, epochs: int | None = None, tflops: float = GPU_TFLOPS
) -> Estimate:
    """The formula of the module docstring for one cell."""
    sizes = task_sizes()
    if task not in sizes:
        raise ValueError(f"no size known for task {task!r}; known: {sorted(sizes)}")
    size = sizes[task]
    epochs = epochs or size.default_epochs
    train_tokens = epochs * size.n_train * size.tokens
    flops = train_tokens * (4 * n_total + 2 * n_trainable) + epochs * size.n_val * size.tokens * 2 * n_total
    flops += size.n_test_inputs * BEAMS * size.gen_len * 2 * n_total
    return Estimate(flops / (tflops * 1e12) / 3600, n_total, n_trainable, train_tokens)


def estimate_cell(
    model: str, method: dict[str, Any], task: str, config: dict[str, Any], tflops: float = GPU_TFLOPS
) -> Estimate:
    """GPU hours of one paper-profile cell: exact N and |Θ| of the model and method, epochs from its config."""
    total, trainable = _counts(model, tuple(sorted((k, _hashable(v)) for k, v in method.items())))
    return gpu_hours(total, trainable, task, config_epochs(config), tflops)
