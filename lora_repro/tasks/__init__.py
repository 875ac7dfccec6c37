"""Tasks: every dataset of the paper from the hub, and an offline twin of each in the same schema.

``get_task(name, profile="tiny", source=None, **options)`` -> a :class:`~lora_repro.tasks.base.Task`;
see docs/CONTRACTS.md and docs/tasks.md. A task is a ``Task`` subclass registered by name with
``register_task`` (the GLUE tasks and MNLI-n in ``glue.py``, one module per NLG task); its options are
``configs/task/<name>.yaml``. Importing this package registers the built-in tasks.
"""

from __future__ import annotations

import importlib
from typing import Any

from lora_repro.tasks.base import (
    TASK_CLASSES,
    TASKS,
    HubSizes,
    Task,
    register_task,
    task_class,
    unregister_task,
)

# Imported in this order, which is the order of TASKS (GLUE, MNLI-n, then the NLG tasks).
BUILTIN_MODULES = ("glue", "e2e", "webnlg", "dart", "wikisql", "samsum")
for _module in BUILTIN_MODULES:
    importlib.import_module(f"lora_repro.tasks.{_module}")
_CONFIG_KEYS = {"name", "profile", "source"}


def task_options(name: str) -> dict[str, Any]:
    """The options in ``configs/task/<name>.yaml`` (without name/profile/source)."""
    from lora_repro.config import config_dir, load_group_file

    task_class(name)
    if not (config_dir() / "task" / f"{name}.yaml").is_file():
        raise ValueError(f"task {name!r} is registered but has no config file configs/task/{name}.yaml")
    return {k: v for k, v in load_group_file("task", name).items() if k not in _CONFIG_KEYS}


def get_task(name: str, profile: str = "tiny", source: str | None = None, **options: Any) -> Task:
    """The task ``name``; ``options`` override ``configs/task/<name>.yaml`` (keys name/profile/source ignored)."""
    merged = task_options(name)
    from omegaconf import DictConfig, ListConfig, OmegaConf

    for k, v in options.items():
        if isinstance(v, DictConfig | ListConfig):
            v = OmegaConf.to_container(v, resolve=True)
        if k in _CONFIG_KEYS:
            continue
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v
    if source is not None:
        source = str(source)
    return task_class(name)(name, profile=profile, source=source or None, **merged)


__all__ = [
    "TASKS",
    "TASK_CLASSES",
    "HubSizes",
    "Task",
    "get_task",
    "register_task",
    "task_class",
    "task_options",
    "unregister_task",
]
